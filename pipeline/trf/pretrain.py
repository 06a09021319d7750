"""Domain pre-training of a small BERT with masked-language modelling.

Gururangan et al. (2020, "Don't Stop Pretraining") show that continuing to pre-train
on the target domain's unlabelled text helps downstream tasks; with no hub to fetch
a Japanese BERT from, this module pre-trains one from scratch on the user's corpus:

1. A WordPiece vocabulary over Sudachi words (:mod:`tsunagu.trf.wordpiece`).
2. The corpus as one stream of ids, documents separated by ``[SEP]``, cut into
   blocks of ``max_length - 2`` pieces framed by ``[CLS]``/``[SEP]`` (RoBERTa's
   FULL-SENTENCES packing: no padding wasted, no next-sentence task).
3. Masked-LM (Devlin et al. 2019): 15% of the pieces are chosen; of those 80% become
   ``[MASK]``, 10% a random piece, 10% stay; the loss is the cross-entropy of the
   original piece at the chosen positions,
   ``L = -1/|M| Σ_{i∈M} log softmax(W h_i + b)[x_i]``. Masks are drawn afresh for
   every batch (dynamic masking, as in RoBERTa).
4. AdamW with linear warm-up and decay; biases and LayerNorm weights get no weight
   decay (docs/transformers.md says why). HF ``Trainer`` runs the loop: progress
   bar, checkpoints every ``save_steps``, exact resumption (optimizer, scheduler,
   RNG and data order are restored).

The output directory is a Hugging Face model directory (``config.json``, weights,
``vocab.txt``, ``tokenizer_config.json``) that ``transformers.AutoModel``,
``AutoTokenizer`` and spacy-transformers load; ``checkpoints/`` beside the model
files lets an interrupted run resume. ``config.json`` is written last, so a
directory without it is an unfinished run, never a half-saved model.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy

from ..atomic import atomic_file, make_temp_dir, write_atomically
from ..errors import ConfigError, ModelLoadError, OutputExistsError
from ..heldout import is_held_out
from . import require_transformers
from .wordpiece import iter_word_lists, japanese_bert_tokenizer, train_wordpiece, wordpiece_ids

META_FILE = "tsunagu-pretrain.json"
CHECKPOINTS = "checkpoints"


@dataclass
class PretrainSettings:
    """Model size and training schedule. The defaults suit a CPU: a 4-layer,
    256-wide BERT (about 4M parameters besides the embeddings), 128-piece blocks."""

    vocab_size: int = 8000
    split_mode: str = "A"
    hidden_size: int = 256
    layers: int = 4
    heads: int = 4
    intermediate_size: int = 1024
    max_length: int = 128
    max_position: int = 512
    dropout: float = 0.1
    batch_size: int = 32
    grad_accumulation: int = 1
    learning_rate: float = 5e-4
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    epochs: float = 1.0
    max_steps: Optional[int] = None
    minutes: Optional[float] = None
    save_steps: int = 200
    mlm_probability: float = 0.15
    valid_percent: int = 2
    seed: int = 0
    mixed_precision: bool = False
    gradient_checkpointing: bool = False

    def validate(self) -> "PretrainSettings":
        positive = ("vocab_size", "hidden_size", "layers", "heads", "intermediate_size", "max_length",
                    "max_position", "batch_size", "grad_accumulation", "save_steps")
        for name in positive:
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive integer, not {getattr(self, name)!r}")
        if self.split_mode not in ("A", "B", "C"):
            raise ConfigError(f"split_mode must be A, B or C, not {self.split_mode!r}")
        if self.hidden_size % self.heads:
            raise ConfigError(f"hidden_size {self.hidden_size} is not divisible by heads {self.heads}")
        if self.max_length > self.max_position:
            raise ConfigError(f"max_length {self.max_length} is longer than the model's "
                              f"{self.max_position} positions (max_position)")
        if self.max_length < 8:
            raise ConfigError(f"max_length {self.max_length} is too short for masked-LM blocks")
        if not 0 < self.mlm_probability < 1:
            raise ConfigError(f"mlm_probability must be in (0, 1), not {self.mlm_probability}")
        if not 0 <= self.valid_percent < 50:
            raise ConfigError(f"valid_percent must be in [0, 50), not {self.valid_percent}")
        if self.max_steps is None and not self.epochs > 0:
            raise ConfigError("give epochs > 0 or max_steps")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps must be positive, not {self.max_steps}")
        if self.minutes is not None and not self.minutes > 0:
            raise ConfigError(f"minutes must be positive, not {self.minutes}")
        return self

    def architecture(self) -> dict[str, Any]:
        """The settings that fix the model and its data; a resumed run must match them."""
        keys = ("vocab_size", "split_mode", "hidden_size", "layers", "heads", "intermediate_size",
                "max_length", "max_position", "valid_percent", "seed")
        return {k: getattr(self, k) for k in keys}


def pretrain(texts: Iterable[str], out_dir: Path, settings: PretrainSettings, *,
             source: str = "", progress: bool = True, fresh: bool = False,
             overwrite: bool = False) -> dict[str, Any]:
    """Pre-train (or resume pre-training) a BERT on ``texts``; returns the run's metadata,
    also saved as ``out_dir/tsunagu-pretrain.json``.

    An ``out_dir`` holding a run of this command is resumed (``fresh``: discarded and
    started again). Anything else already at ``out_dir`` (a file, a directory with
    other contents) is replaced only with ``overwrite``."""
    require_transformers()
    settings.validate()
    out_dir = Path(out_dir)
    _claim_output(out_dir, fresh=fresh, overwrite=overwrite)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta_path = out_dir / META_FILE
    meta = _check_resumable(meta_path, settings, source)
    started = time.perf_counter()
    if not meta:
        # Written first, so that a run stopped while preparing its data is still
        # recognised (and resumed) as this command's.
        meta = {"source": source, "architecture": settings.architecture()}
        write_atomically(meta_path, json.dumps(meta, ensure_ascii=False, indent=2).encode("utf-8"))

    tokenizer, train_blocks, valid_blocks, data_meta = _prepare_data(texts, out_dir, settings, progress)
    meta.update({"source": source, "architecture": settings.architecture(), "data": data_meta,
                 "settings": dataclasses.asdict(settings)})
    write_atomically(meta_path, json.dumps(meta, ensure_ascii=False, indent=2).encode("utf-8"))

    trainer = _make_trainer(tokenizer, train_blocks, valid_blocks, out_dir, settings, progress)
    checkpoint = _last_checkpoint(out_dir / CHECKPOINTS)
    train_started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    train_seconds = time.perf_counter() - train_started
    state = trainer.state
    valid_loss = trainer.evaluate()["eval_loss"] if valid_blocks is not None else None
    _save_final(trainer, tokenizer, out_dir)

    runs = meta.setdefault("runs", [])
    runs.append({"resumed_from": checkpoint.name if checkpoint else None, "steps_at_end": state.global_step,
                 "seconds": round(train_seconds, 1), "train_loss": result.training_loss,
                 "stopped_by_time_budget": bool(settings.minutes) and state.global_step < state.max_steps})
    meta.update({
        "steps": state.global_step, "max_steps": state.max_steps,
        "epochs_done": state.epoch, "tokens_per_step": settings.batch_size * settings.grad_accumulation
        * settings.max_length, "valid_mlm_loss": valid_loss,
        "valid_mlm_perplexity": math.exp(valid_loss) if valid_loss is not None else None,
        "seconds_total": round(sum(r["seconds"] for r in runs), 1),
        "seconds_this_run": round(time.perf_counter() - started, 1),
        "finished": state.global_step >= state.max_steps,
    })
    write_atomically(meta_path, json.dumps(meta, ensure_ascii=False, indent=2).encode("utf-8"))
    return meta


def _claim_output(out_dir: Path, *, fresh: bool, overwrite: bool) -> None:
    """Make ``out_dir`` this run's: keep a run of this command (unless ``fresh``), an
    empty directory or nothing; replace anything else only with ``overwrite``."""
    if not (out_dir.exists() or out_dir.is_symlink()):
        return
    is_run = out_dir.is_dir() and not out_dir.is_symlink() and (out_dir / META_FILE).is_file()
    if is_run:
        if fresh:
            shutil.rmtree(out_dir)
        return
    if out_dir.is_dir() and not out_dir.is_symlink() and not any(out_dir.iterdir()):
        return
    if not overwrite:
        raise OutputExistsError(
            f"{out_dir} already exists and is not a `tsunagu transformer pretrain` run (no {META_FILE}); "
            "it is left untouched. Choose another output directory, or pass --overwrite "
            "(overwrite=True) to replace it.")
    if out_dir.is_dir() and not out_dir.is_symlink():
        shutil.rmtree(out_dir)
    else:
        out_dir.unlink()


def _check_resumable(meta_path: Path, settings: PretrainSettings, source: str) -> dict[str, Any]:
    if not meta_path.exists():
        return {}
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{meta_path} cannot be read ({e}); pass --fresh to start again") from e
    if meta.get("architecture") != settings.architecture():
        raise ConfigError(
            f"{meta_path.parent} holds a run with other model or data settings "
            f"({meta.get('architecture')}); resume with the same settings or pass --fresh")
    if source and meta.get("source") and meta["source"] != source:
        raise ConfigError(f"{meta_path.parent} was pre-trained on {meta['source']}, not {source}; "
                          "pass --fresh to start again")
    return meta


def _prepare_data(texts, out_dir: Path, settings: PretrainSettings, progress: bool):
    """Vocabulary and id blocks, cached in ``out_dir`` so that a resumed run neither
    retrains the vocabulary nor re-tokenizes the corpus."""
    blocks_path = out_dir / "blocks.npz"
    vocab_path = out_dir / "vocab.txt"
    if blocks_path.exists() and vocab_path.exists():
        tokenizer = japanese_bert_tokenizer(vocab_path, split_mode=settings.split_mode,
                                            model_max_length=settings.max_position)
        with numpy.load(blocks_path, allow_pickle=False) as data:
            train, valid = data["train"], data["valid"]
            data_meta = json.loads(str(data["meta"]))
        return tokenizer, train, (valid if len(valid) else None), data_meta

    from ..tokenized import text_problem

    # Texts that are not valid Unicode (a lone surrogate, which JSON allows) would
    # crash Sudachi: they are left out like empty ones.
    documents = [t for t in texts if text_problem(t) is None]
    if not documents:
        raise ConfigError("the corpus has no text to pre-train on")
    word_lists = iter_word_lists(documents, settings.split_mode)
    if progress:
        from tqdm import tqdm

        word_lists = tqdm(word_lists, total=len(documents), unit="doc", desc="sudachi", dynamic_ncols=True)
    words = list(word_lists)
    n_words = sum(map(len, words))
    if n_words == 0:
        raise ConfigError("the corpus has no words to pre-train on")
    train_wordpiece(words, out_dir, vocab_size=settings.vocab_size)
    tokenizer = japanese_bert_tokenizer(vocab_path, split_mode=settings.split_mode,
                                        model_max_length=settings.max_position)
    _save_into(out_dir, lambda tmp: tokenizer.save_pretrained(str(tmp)))

    train_ids: list[int] = []
    valid_ids: list[int] = []
    for text, doc_words in zip(documents, words):
        # Keyed by content, so the same documents are held out on every run and machine.
        held_out = is_held_out(text, settings.valid_percent)
        target = valid_ids if held_out else train_ids
        target.extend(wordpiece_ids(tokenizer, doc_words))
        target.append(tokenizer.sep_token_id)
    width = settings.max_length - 2
    train = _blocks(train_ids, width, tokenizer)
    valid = _blocks(valid_ids, width, tokenizer)
    if len(train) == 0:
        raise ConfigError(f"the corpus is shorter than one block of {settings.max_length} pieces")
    unk = sum(i == tokenizer.unk_token_id for i in train_ids) / max(1, len(train_ids))
    data_meta = {"documents": len(documents), "words": n_words, "pieces": len(train_ids) + len(valid_ids),
                 "train_blocks": int(len(train)), "valid_blocks": int(len(valid)),
                 "vocabulary": len(tokenizer), "unknown_rate": round(unk, 5)}
    with atomic_file(blocks_path, "wb") as f:
        numpy.savez(f, train=train, valid=valid, meta=numpy.array(json.dumps(data_meta)))
    return tokenizer, train, (valid if len(valid) else None), data_meta


def _blocks(ids: list[int], width: int, tokenizer) -> numpy.ndarray:
    """[CLS] + ``width`` ids + [SEP] per row; the ragged tail is dropped."""
    n = len(ids) // width
    if n == 0:
        return numpy.zeros((0, width + 2), dtype=numpy.int32)
    body = numpy.asarray(ids[: n * width], dtype=numpy.int32).reshape(n, width)
    cls = numpy.full((n, 1), tokenizer.cls_token_id, dtype=numpy.int32)
    sep = numpy.full((n, 1), tokenizer.sep_token_id, dtype=numpy.int32)
    return numpy.concatenate([cls, body, sep], axis=1)


class _Blocks:
    """torch-style dataset over a block array."""

    def __init__(self, blocks: numpy.ndarray):
        self.blocks = blocks

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return {"input_ids": self.blocks[i].tolist()}


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _make_trainer(tokenizer, train_blocks, valid_blocks, out_dir: Path, settings: PretrainSettings,
                  progress: bool):
    import torch
    from transformers import (BertConfig, BertForMaskedLM, DataCollatorForLanguageModeling, Trainer,
                              TrainingArguments)

    torch.manual_seed(settings.seed)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=settings.hidden_size,
                        num_hidden_layers=settings.layers, num_attention_heads=settings.heads,
                        intermediate_size=settings.intermediate_size,
                        max_position_embeddings=settings.max_position,
                        hidden_dropout_prob=settings.dropout, attention_probs_dropout_prob=settings.dropout,
                        pad_token_id=tokenizer.pad_token_id)
    model = BertForMaskedLM(config)
    gpu = _cuda_available()
    fp16 = bf16 = False
    if settings.mixed_precision:
        if gpu:
            bf16 = torch.cuda.is_bf16_supported()
            fp16 = not bf16
        else:
            warnings.warn("mixed precision needs a CUDA GPU; pre-training on the CPU in float32",
                          stacklevel=3)
    args = TrainingArguments(
        output_dir=str(out_dir / CHECKPOINTS), overwrite_output_dir=False,
        per_device_train_batch_size=settings.batch_size, per_device_eval_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accumulation, learning_rate=settings.learning_rate,
        weight_decay=settings.weight_decay, warmup_ratio=settings.warmup_ratio, lr_scheduler_type="linear",
        num_train_epochs=settings.epochs, max_steps=settings.max_steps or -1,
        save_strategy="steps", save_steps=settings.save_steps, save_total_limit=2,
        logging_steps=max(1, min(50, settings.save_steps)), eval_strategy="no", report_to=[],
        disable_tqdm=not progress, seed=settings.seed, data_seed=settings.seed, use_cpu=not gpu,
        fp16=fp16, bf16=bf16, gradient_checkpointing=settings.gradient_checkpointing,
        dataloader_num_workers=0, dataloader_pin_memory=gpu, save_safetensors=True)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=settings.mlm_probability)
    callbacks = [_time_budget(settings.minutes * 60)] if settings.minutes else []
    return Trainer(model=model, args=args, data_collator=collator, train_dataset=_Blocks(train_blocks),
                   eval_dataset=_Blocks(valid_blocks) if valid_blocks is not None else None,
                   callbacks=callbacks)


def _time_budget(seconds: float):
    """A Trainer callback that stops training after ``seconds`` and saves a
    checkpoint there, so that the next run resumes where this one stopped."""
    from transformers import TrainerCallback

    class TimeBudget(TrainerCallback):
        def __init__(self):
            self.deadline = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.deadline = time.monotonic() + seconds

        def on_step_end(self, args, state, control, **kwargs):
            if time.monotonic() >= self.deadline:
                control.should_training_stop = True
                control.should_save = True
            return control

    return TimeBudget()


def _last_checkpoint(checkpoints: Path) -> Optional[Path]:
    """The newest checkpoint, checked before resuming: a corrupt one is an error that
    names the file (resuming from it would crash deep inside torch, or worse, train on
    garbage)."""
    if not checkpoints.is_dir():
        return None
    found = sorted((p for p in checkpoints.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
                   key=lambda p: int(p.name.split("-")[-1]))
    if not found:
        return None
    latest = found[-1]
    for name in ("trainer_state.json", "model.safetensors", "optimizer.pt"):
        if not (latest / name).exists():
            raise ModelLoadError(_corrupt(latest, f"{name} is missing", found))
    try:
        json.loads((latest / "trainer_state.json").read_text(encoding="utf-8"))
        from safetensors import safe_open

        with safe_open(str(latest / "model.safetensors"), framework="pt") as f:
            for key in f.keys():
                f.get_slice(key)
    except Exception as e:  # noqa: BLE001 - any failure means the checkpoint is unusable
        raise ModelLoadError(_corrupt(latest, f"it cannot be read ({type(e).__name__}: {e})", found)) from e
    return latest


def _corrupt(latest: Path, why: str, found: list[Path]) -> str:
    earlier = f"remove it to resume from {found[-2].name}" if len(found) > 1 else "remove it"
    return f"checkpoint {latest} is corrupt: {why}; {earlier}, or pass --fresh to start again"


def _save_into(out_dir: Path, save, last: Optional[str] = None) -> None:
    """Run ``save(tmp)`` on a new private directory inside ``out_dir`` (a unique name:
    nothing planted there is followed), then rename what it wrote into ``out_dir``,
    ``last`` (when given) after everything else."""
    tmp = make_temp_dir(out_dir, "save")
    try:
        save(tmp)
        items = sorted(tmp.iterdir(), key=lambda item: item.name == last)
        for item in items:
            os.replace(item, out_dir / item.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _save_final(trainer, tokenizer, out_dir: Path) -> None:
    """Weights and tokenizer first, ``config.json`` last (each renamed into place): a
    reader that finds ``config.json`` finds a complete model."""
    (out_dir / "config.json").unlink(missing_ok=True)

    def save(tmp: Path) -> None:
        trainer.model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))

    _save_into(out_dir, save, last="config.json")
