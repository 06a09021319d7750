"""word2vec embeddings trained with gensim on the user's corpus, stored for spaCy.

Skip-gram (``sg``) predicts each context word c within ``window`` of a centre word
w, maximising log p(c | w); CBOW predicts w from the mean of its context vectors
(Mikolov et al., "Efficient Estimation of Word Representations in Vector Space",
2013). The softmax over the vocabulary is approximated by negative sampling,
log σ(u_c·v_w) + Σ_{k≤K} log σ(-u_{n_k}·v_w) with K noise words drawn from the
unigram distribution raised to 3/4, or by hierarchical softmax over a Huffman tree,
Σ_j log σ(±u_{n_j}·v_w) along the path of c (Mikolov et al., "Distributed
Representations of Words and Phrases and their Compositionality", NIPS 2013).
Frequent words are subsampled with threshold ``sample``.

gensim does the training; this module chooses the token keys, feeds gensim its
fastest input (a tokenized ``corpus_file``), reports progress, and writes a
directory that both gensim (``vectors.kv``) and spaCy (``spacy_vocab/``) load:

    DIR/meta.json        key form, split mode, settings, corpus and training figures
    DIR/vectors.kv       gensim KeyedVectors
    DIR/spacy_vocab/     a spaCy Vocab holding the same vectors
    DIR/training_loss.png
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from .atomic import replaced_directory
from .errors import ConfigError, CorpusError, ModelNotFoundError, TsunaguError
from .vectorkeys import check_key

META_FORMAT = "tsunagu-word2vec"
META_VERSION = 1
PathLike = Union[str, Path]


class EmbeddingsError(TsunaguError, ValueError):
    """Training cannot proceed on this corpus with these settings."""


@dataclass
class Word2VecSettings:
    sg: bool = True
    negative: int = 5
    hs: bool = False
    vector_size: int = 100
    window: int = 5
    min_count: int = 5
    epochs: int = 5
    sample: float = 1e-3
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    seed: int = 1
    # gensim's loss bookkeeping costs several percent of training speed.
    compute_loss: bool = True

    def validate(self) -> "Word2VecSettings":
        checks = [
            (self.vector_size >= 1, "dim (vector_size) must be at least 1"),
            (self.window >= 1, "window must be at least 1"),
            (self.min_count >= 1, "min_count must be at least 1"),
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.negative >= 0, "negative must be 0 or more"),
            (self.sample >= 0, "sample must be 0 or more"),
            (self.workers >= 1, "workers must be at least 1"),
            (self.hs or self.negative > 0,
             "with --negative 0 and no --hs there is no output layer to train; use one of them"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message + ".")
        return self

    def gensim_kwargs(self) -> dict[str, Any]:
        return {
            "sg": int(self.sg), "hs": int(self.hs), "negative": self.negative,
            "vector_size": self.vector_size, "window": self.window, "min_count": self.min_count,
            "epochs": self.epochs, "sample": self.sample, "workers": self.workers, "seed": self.seed,
        }

    @property
    def name(self) -> str:
        arch = "skip-gram" if self.sg else "CBOW"
        out = []
        if self.negative:
            out.append(f"negative sampling ({self.negative})")
        if self.hs:
            out.append("hierarchical softmax")
        return f"{arch}, {' + '.join(out)}"


@dataclass
class TrainingStats:
    seconds: float
    words: int
    words_per_second: float
    vocabulary: int
    loss_per_epoch: list[float]


def train_word2vec(corpus_file: PathLike, settings: Word2VecSettings, progress: bool = True):
    """Build the vocabulary and train on a tokenized corpus file (one sentence per
    line, space-separated keys). Returns the gensim model and ``TrainingStats``."""
    from gensim.models import Word2Vec

    settings.validate()
    corpus_file = str(corpus_file)
    started = time.perf_counter()
    model = Word2Vec(**settings.gensim_kwargs())
    model.build_vocab(corpus_file=corpus_file)
    if len(model.wv) == 0:
        raise EmbeddingsError(_empty_vocabulary_message(corpus_file, settings.min_count))
    callback = _Progress(settings.epochs, model.corpus_total_words, progress)
    try:
        model.train(corpus_file=corpus_file, total_examples=model.corpus_count,
                    total_words=model.corpus_total_words, epochs=settings.epochs,
                    compute_loss=settings.compute_loss, callbacks=[callback])
    finally:
        callback.close()
    seconds = time.perf_counter() - started
    words = model.corpus_total_words * settings.epochs
    return model, TrainingStats(seconds, words, words / seconds, len(model.wv), callback.losses)


def _empty_vocabulary_message(corpus_file: str, min_count: int) -> str:
    counts: dict[str, int] = {}
    with open(corpus_file, encoding="utf-8") as f:
        for line in f:
            for word in line.split():
                counts[word] = counts.get(word, 0) + 1
    top = max(counts.values()) if counts else 0
    return (f"No word occurs at least min_count={min_count} times in the corpus "
            f"({len(counts)} distinct words, {sum(counts.values())} tokens; the most frequent "
            f"occurs {top} times). Train on more text or lower --min-count.")


class _Progress:
    """gensim callback: a progress bar over epochs with words/s and the epoch's loss."""

    def __init__(self, epochs: int, words_per_epoch: int, enabled: bool) -> None:
        self.words_per_epoch, self.losses = words_per_epoch, []
        self._previous = 0.0
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=epochs, unit="epoch", desc="word2vec", dynamic_ncols=True)

    # gensim calls these by name (CallbackAny2Vec's interface).
    def on_train_begin(self, model): pass

    def on_train_end(self, model): pass

    def on_epoch_begin(self, model):
        self._started = time.perf_counter()

    def on_epoch_end(self, model):
        postfix = {}
        if model.compute_loss:
            # gensim's loss is cumulative over the train() call.
            total = float(model.get_latest_training_loss())
            self.losses.append(total - self._previous)
            self._previous = total
            postfix["loss"] = f"{self.losses[-1]:.4g}"
        if self._bar is not None:
            speed = self.words_per_epoch / max(time.perf_counter() - self._started, 1e-9)
            self._bar.set_postfix(words_s=f"{speed:,.0f}", **postfix, refresh=False)
            self._bar.update(1)

    def on_batch_begin(self, model): pass

    def on_batch_end(self, model): pass

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def save_vectors(model, out_dir: PathLike, meta: dict[str, Any], overwrite: bool = True) -> Path:
    """Write the vectors directory atomically (a temporary directory renamed into place)."""
    import numpy
    from spacy.vectors import Vectors
    from spacy.vocab import Vocab

    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise EmbeddingsError(f"{out_dir} exists; choose another directory or allow overwriting.")
    with replaced_directory(out_dir) as tmp:
        kv = model.wv
        kv.save(str(tmp / "vectors.kv"))
        vocab = Vocab()
        data = numpy.ascontiguousarray(kv.vectors, dtype="float32")
        vocab.vectors = Vectors(strings=vocab.strings, data=data, keys=list(kv.index_to_key),
                                name=f"tsunagu_{meta.get('key', 'lemma')}")
        vocab.to_disk(tmp / "spacy_vocab")
        meta = {"format": META_FORMAT, "version": META_VERSION, "vectors": len(kv),
                "dim": kv.vector_size, **meta}
        (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        losses = meta.get("training", {}).get("loss_per_epoch")
        if losses:
            plot_loss(losses, tmp / "training_loss.png", meta.get("settings_name", ""))
    return out_dir


def plot_loss(losses: list[float], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(range(1, len(losses) + 1), losses, marker="o")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (gensim)")
    ax.set_title(title or "word2vec training loss", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def read_meta(vectors_dir: PathLike) -> dict[str, Any]:
    """``meta.json`` of a vectors directory, checked."""
    vectors_dir = Path(vectors_dir)
    if not vectors_dir.is_dir():
        raise ModelNotFoundError(
            f"No vectors directory at {vectors_dir}. Train one with "
            f"`tsunagu embed train CORPUS -o {vectors_dir}`."
        )
    meta_path = vectors_dir / "meta.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelNotFoundError(f"{vectors_dir} is not a tsunagu vectors directory: no meta.json.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelNotFoundError(f"{meta_path} is corrupt ({e}); retrain the vectors.") from None
    if not isinstance(meta, dict) or meta.get("format") != META_FORMAT:
        raise ModelNotFoundError(f"{meta_path} does not describe tsunagu word2vec vectors.")
    check_key(meta.get("key", ""))
    return meta


def load_keyed_vectors(vectors_dir: PathLike):
    """The gensim ``KeyedVectors`` of a vectors directory."""
    from gensim.models import KeyedVectors

    meta = read_meta(vectors_dir)
    path = Path(vectors_dir) / "vectors.kv"
    try:
        kv = KeyedVectors.load(str(path))
    except Exception as e:
        raise ModelNotFoundError(f"Cannot read {path}: {type(e).__name__}: {e}. Retrain the vectors.") from None
    if len(kv) != meta["vectors"] or kv.vector_size != meta["dim"]:
        raise ModelNotFoundError(f"{path} does not match {vectors_dir}/meta.json; retrain the vectors.")
    return kv


def load_spacy_vocab(vectors_dir: PathLike):
    """The spaCy ``Vocab`` holding the vectors of a vectors directory."""
    from spacy.vocab import Vocab

    meta = read_meta(vectors_dir)
    path = Path(vectors_dir) / "spacy_vocab"
    try:
        vocab = Vocab().from_disk(path)
    except Exception as e:
        raise ModelNotFoundError(f"Cannot read the spaCy vectors in {path}: {type(e).__name__}: {e}. "
                                 "Retrain the vectors.") from None
    if vocab.vectors.shape != (meta["vectors"], meta["dim"]):
        raise ModelNotFoundError(f"{path} holds {vocab.vectors.shape} vectors but meta.json says "
                                 f"({meta['vectors']}, {meta['dim']}); retrain the vectors.")
    return vocab


def train_embeddings(
    corpus: PathLike,
    out_dir: PathLike,
    settings: Word2VecSettings,
    *,
    key: str = "lemma",
    split_mode: str = "C",
    input_format: Optional[str] = None,
    reader_options: Optional[dict[str, Any]] = None,
    cache_dir: Optional[PathLike] = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Tokenize (cached), train and save; returns the written ``meta``."""
    from .tokenized import tokenize_corpus

    check_key(key)
    settings.validate()
    tokenized = tokenize_corpus(corpus, key=key, split_mode=split_mode, input_format=input_format,
                                reader_options=reader_options, workers=settings.workers,
                                cache_dir=cache_dir, progress=progress)
    if tokenized.tokens < settings.window + 1:
        raise CorpusError(f"The corpus has only {tokenized.tokens} tokens; word2vec needs far more.")
    model, stats = train_word2vec(tokenized.path, settings, progress=progress)
    meta = {
        "key": key,
        "split_mode": split_mode,
        "settings": asdict(settings),
        "settings_name": settings.name,
        "corpus": {"source": str(Path(corpus).resolve()), **tokenized.stats()},
        "training": asdict(stats),
    }
    save_vectors(model, out_dir, meta)
    return read_meta(out_dir)
