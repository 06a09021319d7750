"""A word-level LSTM language model over Japanese tokens, with any large-output head.

The model reads token ids x_1..x_T and predicts each next token:

    e_t = E[x_t],   (h_t, c_t) = LSTM(e_t, h_{t-1}, c_{t-1}),
    p(x_{t+1} | x_≤t) = head(h_t),

trained by truncated back-propagation through time over the corpus read as one
stream (sentences joined by an end-of-sentence token, ``bptt`` steps per update,
hidden state carried across batches, as in Zaremba et al. 2014 and PyTorch's
word_language_model example). The output layer is any ``tsunagu.heads`` head: the
full softmax, or an approximation that makes a large vocabulary cheap to train.
Perplexity, exp(-1/N Σ log p(x_{t+1} | x_≤t)), is always computed with the head's
normalised ``log_prob_of``, so it compares heads fairly.

A model directory holds::

    DIR/model.pt     settings and weights (torch.save, written atomically)
    DIR/vocab.tsv    word<TAB>count, in id order (0 = <unk>, 1 = </s>)
    DIR/meta.json    key form, split mode, training figures, validation perplexity

``model.pt`` and the training checkpoint hold only tensors and plain Python values
and are read with ``torch.load(weights_only=True)``, which refuses anything else:
neither runs code when loaded, so a model received from someone else is safe to load.
"""

from __future__ import annotations

import json
import math
import pickle
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Union

import torch
from torch import nn

from .atomic import atomic_file, refuse_existing, replaced_directory
from .errors import ConfigError, LanguageModelError, ModelLoadError, ModelNotFoundError
from .heads import HEADS, make_head
from .parallel import torch_threads

UNK, EOS = "<unk>", "</s>"
FORMAT = "tsunagu-lstm-lm"
CHECKPOINT_FORMAT = "tsunagu-lstm-lm-checkpoint-2"
PathLike = Union[str, Path]


@dataclass
class LMSettings:
    head: str = "hierarchical"
    head_options: dict = field(default_factory=dict)
    embed_size: int = 128
    hidden_size: int = 256
    layers: int = 1
    dropout: float = 0.2
    max_vocab: int = 50_000
    min_count: int = 2
    bptt: int = 35
    batch_size: int = 32
    lr: float = 2e-3
    clip: float = 1.0
    epochs: int = 1
    minutes: Optional[float] = None  # stop after this much training time (equal-time comparisons)
    seed: int = 0
    threads: Optional[int] = None

    def validate(self) -> "LMSettings":
        if self.head not in HEADS:
            raise ConfigError(f"head must be one of {', '.join(HEADS)}, not {self.head!r}.")
        for name in ("embed_size", "hidden_size", "layers", "max_vocab", "min_count", "bptt",
                     "batch_size", "epochs"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ConfigError(f"{name} must be a positive integer, not {value!r}.")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), not {self.dropout}.")
        if self.minutes is not None and self.minutes <= 0:
            raise ConfigError(f"minutes must be positive, not {self.minutes}.")
        return self


class Vocabulary:
    """Ids for the ``max_vocab`` most frequent words seen ``min_count`` times; the rest
    map to <unk>. Counts are kept: the Huffman tree and the noise distributions need them."""

    def __init__(self, words: list[str], counts: list[int]) -> None:
        if words[:2] != [UNK, EOS]:
            raise LanguageModelError("a vocabulary starts with <unk> and </s>.")
        self.words, self.counts = words, counts
        self.index = {w: i for i, w in enumerate(words)}

    @classmethod
    def build(cls, sentences: Iterable[list[str]], max_vocab: int, min_count: int) -> "Vocabulary":
        from collections import Counter

        counter: Counter = Counter()
        n_sentences = 0
        for sentence in sentences:
            counter.update(sentence)
            n_sentences += 1
        kept = [(w, c) for w, c in counter.most_common() if c >= min_count and w not in (UNK, EOS)]
        kept = kept[:max(max_vocab - 2, 0)]
        unknown = sum(counter.values()) - sum(c for _, c in kept)
        return cls([UNK, EOS] + [w for w, _ in kept], [max(unknown, 1), max(n_sentences, 1)] + [c for _, c in kept])

    def __len__(self) -> int:
        return len(self.words)

    def ids(self, sentence: list[str]) -> list[int]:
        get = self.index.get
        return [get(w, 0) for w in sentence] + [1]

    def to_disk(self, path: Path) -> None:
        path.write_text("".join(f"{w}\t{c}\n" for w, c in zip(self.words, self.counts)), encoding="utf-8")

    @classmethod
    def from_disk(cls, path: Path) -> "Vocabulary":
        words, counts = [], []
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            parts = line.split("\t")
            if len(parts) != 2 or not parts[1].isdigit():
                raise LanguageModelError(f"{path}:{lineno}: expected word<TAB>count")
            words.append(parts[0])
            counts.append(int(parts[1]))
        return cls(words, counts)


class LSTMLanguageModel(nn.Module):
    def __init__(self, vocab_size: int, settings: LMSettings, counts: Optional[list[int]] = None) -> None:
        super().__init__()
        self.settings = settings
        self.embedding = nn.Embedding(vocab_size, settings.embed_size)
        self.lstm = nn.LSTM(settings.embed_size, settings.hidden_size, settings.layers, batch_first=True,
                            dropout=settings.dropout if settings.layers > 1 else 0.0)
        self.dropout = nn.Dropout(settings.dropout)
        self.head = make_head(settings.head, settings.hidden_size, vocab_size, counts=counts,
                              **settings.head_options)

    def hidden_states(self, ids: torch.Tensor, state=None):
        """ids (B, T) -> hidden (B·T, H) and the LSTM state to carry on."""
        out, state = self.lstm(self.dropout(self.embedding(ids)), state)
        return self.dropout(out).reshape(-1, out.shape[-1]), state

    def loss(self, ids: torch.Tensor, targets: torch.Tensor, state=None):
        hidden, state = self.hidden_states(ids, state)
        return self.head.loss(hidden, targets.reshape(-1)), state

    def log_prob_of(self, ids: torch.Tensor, targets: torch.Tensor, state=None):
        """log p(targets | history), shape (B, T)."""
        hidden, state = self.hidden_states(ids, state)
        return self.head.log_prob_of(hidden, targets.reshape(-1)).view(targets.shape), state


def batchify(stream: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut the id stream into ``batch_size`` parallel rows, shape (B, N/B)."""
    n = stream.numel() // batch_size
    if n < 2:
        raise LanguageModelError(f"{stream.numel()} tokens are too few for batch size {batch_size}.")
    return stream[: n * batch_size].view(batch_size, n)


def bptt_batches(data: torch.Tensor, bptt: int):
    """(inputs, next tokens) windows of up to ``bptt`` steps over batchified data
    (B, N): inputs data[:, t:t+k], targets data[:, t+1:t+1+k]."""
    for start in range(0, data.shape[1] - 1, bptt):
        targets = data[:, start + 1:start + 1 + bptt]
        yield data[:, start:start + targets.shape[1]], targets


def stream_of(sentences: Iterable[list[str]], vocab: Vocabulary) -> torch.Tensor:
    ids: list[int] = []
    for sentence in sentences:
        ids.extend(vocab.ids(sentence))
    return torch.tensor(ids, dtype=torch.int64)


def read_token_file(path: PathLike) -> list[list[str]]:
    """A tokenized corpus file (one sentence per line, space-separated keys), as
    written by ``tsunagu.tokenized.tokenize_corpus``."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            return [line.split() for line in f if line.strip()]
    except FileNotFoundError:
        raise LanguageModelError(f"Tokenized corpus not found: {path}") from None
    except UnicodeDecodeError as e:
        raise LanguageModelError(f"{path} is not UTF-8 text (byte {e.start}).") from None


@torch.no_grad()
def perplexity(model: LSTMLanguageModel, stream: torch.Tensor, *, batch_size: int = 16,
               bptt: int = 70, max_tokens: Optional[int] = None) -> float:
    """exp of the mean negative log-likelihood of each next token of ``stream``."""
    model.eval()
    if max_tokens is not None:
        stream = stream[: max_tokens + 1]
    data = batchify(stream, batch_size)
    total, count, state = 0.0, 0, None
    for ids, targets in bptt_batches(data, bptt):
        logp, state = model.log_prob_of(ids, targets, state)
        total -= float(logp.sum())
        count += targets.numel()
    return math.exp(total / count)


def train_language_model(train: list[list[str]], valid: list[list[str]], out_dir: PathLike,
                         settings: LMSettings, *, meta: Optional[dict] = None, progress: bool = True,
                         valid_tokens: Optional[int] = 100_000, overwrite: bool = False) -> dict:
    """Train on tokenized sentences, evaluate validation perplexity, save ``out_dir``
    (an existing one is replaced only with ``overwrite``).

    A checkpoint (``out_dir.partial/checkpoint.pt``) is written at the end of every
    epoch and on Ctrl-C; calling again with the same arguments resumes from it."""
    settings.validate()
    refuse_existing(out_dir, overwrite, "language model directory")
    torch.manual_seed(settings.seed)
    with torch_threads(settings.threads):
        return _train(train, valid, Path(out_dir), settings, meta or {}, progress, valid_tokens)


def _train(train, valid, out_dir: Path, settings: LMSettings, meta: dict, progress: bool,
           valid_tokens: Optional[int]) -> dict:
    vocab = Vocabulary.build(train, settings.max_vocab, settings.min_count)
    if len(vocab) <= 2:
        raise LanguageModelError(f"No word occurs {settings.min_count} times in the training text.")
    data = batchify(stream_of(train, vocab), settings.batch_size)
    valid_stream = stream_of(valid, vocab)
    model = LSTMLanguageModel(len(vocab), settings, counts=vocab.counts)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    partial = out_dir.with_name(out_dir.name + ".partial")
    checkpoint = partial / "checkpoint.pt"
    epoch, seconds, steps, losses = 0, 0.0, 0, []
    if checkpoint.exists():
        saved = _read_checkpoint(checkpoint, partial)
        same_settings = saved.get("settings") == json.dumps(asdict(settings), sort_keys=True)
        if not same_settings or saved.get("vocab") != vocab.words:
            raise LanguageModelError(f"{checkpoint} belongs to other settings or data; delete {partial} "
                                     "to start again.")
        try:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            epoch, seconds, steps, losses = saved["epoch"], saved["seconds"], saved["steps"], saved["losses"]
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            raise ModelLoadError(f"{checkpoint} is damaged ({type(e).__name__}: {e}); delete {partial} "
                                 "to start again.") from None
    n_batches = math.ceil((data.shape[1] - 1) / settings.bptt)
    budget = None if settings.minutes is None else settings.minutes * 60
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=settings.epochs * n_batches, initial=epoch * n_batches, unit="batch",
                   desc=f"LSTM LM ({settings.head})", dynamic_ncols=True)

    def save_checkpoint() -> None:
        partial.mkdir(parents=True, exist_ok=True)
        # Settings as JSON text, the rest tensors and plain values: what weights_only
        # loading accepts.
        with atomic_file(checkpoint, "wb") as f:
            torch.save({"format": CHECKPOINT_FORMAT, "settings": json.dumps(asdict(settings), sort_keys=True),
                        "vocab": vocab.words, "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(), "epoch": epoch, "seconds": seconds,
                        "steps": steps, "losses": losses}, f)

    out_of_time = False
    try:
        while epoch < settings.epochs and not out_of_time:
            model.train()
            state, total, count = None, 0.0, 0
            for ids, targets in bptt_batches(data, settings.bptt):
                began = time.perf_counter()
                if state is not None:  # truncated BPTT: keep the state, not its history
                    state = tuple(s.detach() for s in state)
                optimizer.zero_grad(set_to_none=True)
                loss, state = model.loss(ids, targets, state)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), settings.clip)
                optimizer.step()
                seconds += time.perf_counter() - began
                steps += 1
                total, count = total + float(loss.detach()), count + 1
                if bar is not None:
                    bar.update(1)
                    if steps % 20 == 0:
                        bar.set_postfix(loss=f"{total / count:.3f}", refresh=False)
                if budget is not None and seconds >= budget:
                    out_of_time = True
                    break
            losses.append(total / max(count, 1))
            epoch += 1
            save_checkpoint()
    except KeyboardInterrupt:
        save_checkpoint()
        raise
    finally:
        if bar is not None:
            bar.close()
    started = time.perf_counter()
    valid_ppl = perplexity(model, valid_stream, max_tokens=valid_tokens) if valid_stream.numel() > 32 else None
    meta = {"format": FORMAT, "settings": asdict(settings), "vocabulary": len(vocab),
            "train_tokens": int(data.numel()), "valid_tokens": None if valid_ppl is None else
            min(int(valid_stream.numel()) - 1, valid_tokens or 10**12),
            "training": {"seconds": seconds, "steps": steps, "epochs_done": epoch,
                         "stopped_by_time": out_of_time, "loss_per_epoch": losses,
                         "tokens_per_second": steps * settings.batch_size * settings.bptt / max(seconds, 1e-9)},
            "valid_perplexity": valid_ppl, "eval_seconds": time.perf_counter() - started, **meta}
    save_language_model(model, vocab, out_dir, meta)
    shutil.rmtree(partial, ignore_errors=True)
    return meta


def describe_load_failure(error: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` failed, in words. torch's own message for a
    refused object suggests loading with ``weights_only=False``: exactly what must not
    be done with a file from elsewhere, so it is not passed on."""
    if isinstance(error, pickle.UnpicklingError):
        return ("it holds objects other than tensors and plain values, which could run code, so it "
                "was refused")
    detail = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def _read_checkpoint(checkpoint: Path, partial: Path) -> dict:
    """The training checkpoint, read without running code. Anything else found at its
    path (a file of another version, a damaged one, or a pickle planted there, which
    ``weights_only`` refuses before it can run) is an error that says how to go on."""
    try:
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - refused or unreadable: either way not resumable
        raise ModelLoadError(
            f"{checkpoint} is not a checkpoint this version of tsunagu can resume from "
            f"({describe_load_failure(e)}). Only "
            f"tensors and plain values are ever read from it, never code. Delete {partial} to start the "
            "training again.") from None
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        raise ModelLoadError(f"{checkpoint} was not written by this version of `tsunagu lm train`; delete "
                             f"{partial} to start the training again.")
    return saved


def save_language_model(model: LSTMLanguageModel, vocab: Vocabulary, out_dir: Path, meta: dict) -> None:
    with replaced_directory(out_dir) as tmp:
        torch.save({"settings": asdict(model.settings), "state": model.state_dict()}, tmp / "model.pt")
        vocab.to_disk(tmp / "vocab.tsv")
        (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")


def load_language_model(path: PathLike) -> tuple[LSTMLanguageModel, Vocabulary, dict]:
    """Model, vocabulary and meta of a directory of ``tsunagu lm train``. Missing:
    ``ModelNotFoundError``; present but unusable (truncated, damaged, of another
    version): ``ModelLoadError`` naming the file."""
    path = Path(path)
    if not (path / "model.pt").is_file():
        raise ModelNotFoundError(f"No language model at {path} (model.pt missing). "
                                 f"Train one with `tsunagu lm train CORPUS -o {path}`.")
    fix = "copy the model directory again, or retrain it with `tsunagu lm train`"
    current = path / "meta.json"
    try:
        meta = json.loads(current.read_text(encoding="utf-8"))
        current = path / "vocab.tsv"
        vocab = Vocabulary.from_disk(current)
        current = path / "model.pt"
        # weights_only: tensors and plain values only, so a model from elsewhere runs no code.
        saved = torch.load(current, map_location="cpu", weights_only=True)
        settings = LMSettings(**saved["settings"])
        model = LSTMLanguageModel(len(vocab), settings, counts=vocab.counts)
        model.load_state_dict(saved["state"])
    except Exception as e:  # noqa: BLE001 - unpickling, JSON, shape errors: all mean a bad model
        raise ModelLoadError(f"{current} of the language model {path} is truncated, corrupt or incompatible "
                             f"({describe_load_failure(e)}); {fix}.") from None
    model.eval()
    return model, vocab, meta
