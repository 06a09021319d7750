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
directory that gensim (through ``load_keyed_vectors``) and spaCy (``spacy_vocab/``)
load:

    DIR/meta.json        key form, split mode, settings, corpus and training figures
    DIR/vectors.npy      the vectors, float32, one row per word (``numpy.save``)
    DIR/vocab.json       the words of the rows, in order (a JSON list of strings)
    DIR/spacy_vocab/     a spaCy Vocab holding the same vectors
    DIR/training_loss.png

Nothing in the directory runs code when loaded: ``vectors.npy`` is read with
``allow_pickle=False`` and the rest is JSON, msgpack and numpy, so a vectors
directory received from someone else is safe to load. Directories written before
version 2 hold a pickled gensim ``vectors.kv`` instead; a pickle can run any code,
so it is loaded only when the caller trusts it (``trust=True``; convert such a
directory once with ``tsunagu embed convert DIR --trust-pickle``).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from .atomic import (
    atomic_file,
    check_distinct_paths,
    check_output_holds_no_input,
    refuse_existing,
    replaced_directory,
    write_atomically,
)
from .errors import (ConfigError, CorpusError, EmbeddingsError, ModelLoadError, ModelNotFoundError,
                     UnsafeFileError)
from .vectorkeys import check_key

META_FORMAT = "tsunagu-word2vec"
# 2: vectors.npy + vocab.json in place of the pickled vectors.kv of version 1.
META_VERSION = 2
VECTORS_FILE, VOCAB_FILE, PICKLE_FILE = "vectors.npy", "vocab.json", "vectors.kv"
PathLike = Union[str, Path]


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
    refuse_existing(out_dir, overwrite, "vectors directory")
    with replaced_directory(out_dir) as tmp:
        kv = model.wv
        data = numpy.ascontiguousarray(kv.vectors, dtype="float32")
        write_vector_files(tmp, list(kv.index_to_key), data)
        vocab = Vocab()
        vocab.vectors = Vectors(strings=vocab.strings, data=data, keys=list(kv.index_to_key),
                                name=f"tsunagu_{meta.get('key', 'lemma')}")
        vocab.to_disk(tmp / "spacy_vocab")
        meta = {"format": META_FORMAT, "version": META_VERSION, "vectors": len(kv),
                "dim": kv.vector_size, **meta}
        _write_meta(tmp, meta)
        losses = meta.get("training", {}).get("loss_per_epoch")
        if losses:
            plot_loss(losses, tmp / "training_loss.png", meta.get("settings_name", ""))
    return out_dir


def write_vector_files(directory: Path, words: list[str], vectors) -> None:
    """``vectors.npy`` and ``vocab.json`` in ``directory``, each replaced atomically."""
    import io

    import numpy

    buffer = io.BytesIO()
    numpy.save(buffer, numpy.ascontiguousarray(vectors, dtype="float32"), allow_pickle=False)
    # vocab.json first: vectors.npy marks the directory as converted (load_keyed_vectors).
    write_atomically(directory / VOCAB_FILE, json.dumps(words, ensure_ascii=False).encode("utf-8"))
    write_atomically(directory / VECTORS_FILE, buffer.getvalue())


def _write_meta(directory: Path, meta: dict[str, Any]) -> None:
    write_atomically(directory / "meta.json", json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))


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
        raise ModelLoadError(f"{meta_path} is corrupt ({e}); copy the directory again or retrain "
                             "the vectors.") from None
    if not isinstance(meta, dict) or meta.get("format") != META_FORMAT:
        raise ModelNotFoundError(f"{meta_path} does not describe tsunagu word2vec vectors.")
    check_key(meta.get("key", ""))
    return meta


def load_keyed_vectors(vectors_dir: PathLike, *, trust: bool = False):
    """The gensim ``KeyedVectors`` of a vectors directory.

    ``trust``: also load a directory of version 1, which holds the vectors only as a
    pickle (``vectors.kv``). Loading a pickle runs whatever code it contains: pass
    ``trust=True`` only for a directory you made yourself."""
    meta = read_meta(vectors_dir)
    vectors_dir = Path(vectors_dir)
    if (vectors_dir / VECTORS_FILE).exists() or not (vectors_dir / PICKLE_FILE).exists():
        words, vectors = _read_vector_files(vectors_dir)
        kv = keyed_vectors(words, vectors)
    else:
        kv = load_pickled_vectors(vectors_dir / PICKLE_FILE, trust=trust, convert=vectors_dir)
    if len(kv) != meta["vectors"] or kv.vector_size != meta["dim"]:
        raise ModelLoadError(f"The vectors in {vectors_dir} ({len(kv)} x {kv.vector_size}) do not match "
                             f"its meta.json ({meta['vectors']} x {meta['dim']}); copy the directory "
                             "again or retrain the vectors.")
    return kv


def _read_vector_files(vectors_dir: Path):
    import numpy

    array_path, vocab_path = vectors_dir / VECTORS_FILE, vectors_dir / VOCAB_FILE
    if not array_path.is_file() or not vocab_path.is_file():
        missing = array_path if not array_path.is_file() else vocab_path
        raise ModelLoadError(f"{vectors_dir} is an incomplete vectors directory: {missing.name} is missing. "
                             "Copy the directory again or retrain the vectors with `tsunagu embed train`.")
    try:
        # allow_pickle=False: an object array would be a pickle, which could run code.
        vectors = numpy.load(array_path, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - truncated, not .npy, an object array: all unusable
        raise ModelLoadError(f"Cannot read {array_path} ({type(e).__name__}: {e}): the file is truncated "
                             "or not a float array. Copy the directory again or retrain the "
                             "vectors.") from None
    try:
        words = json.loads(vocab_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ModelLoadError(f"Cannot read {vocab_path} ({e}); copy the directory again or retrain "
                             "the vectors.") from None
    if not (isinstance(words, list) and all(isinstance(w, str) for w in words)):
        raise ModelLoadError(f"{vocab_path} is not a JSON list of words; copy the directory again or "
                             "retrain the vectors.")
    if vectors.ndim != 2 or vectors.dtype.kind != "f" or vectors.shape[0] != len(words):
        raise ModelLoadError(f"{array_path} holds a {vectors.dtype} array of shape {vectors.shape}, but "
                             f"{vocab_path.name} lists {len(words)} words; copy the directory again or "
                             "retrain the vectors.")
    if len(set(words)) != len(words):
        raise ModelLoadError(f"{vocab_path} lists a word twice; copy the directory again or retrain "
                             "the vectors.")
    return words, vectors


def keyed_vectors(words: list[str], vectors):
    """gensim ``KeyedVectors`` holding ``vectors`` (one row per word)."""
    import numpy
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, numpy.asarray(vectors, dtype="float32"))
    return kv


def load_pickled_vectors(path: Path, *, trust: bool, convert: Optional[Path] = None):
    """gensim ``KeyedVectors.load(path)``, which unpickles, so only when ``trust``."""
    if not trust:
        how = (f"convert the directory once: `tsunagu embed convert {convert} --trust-pickle`, after which "
               "it loads without running code" if convert is not None else
               f"convert it once to word2vec's binary format: `tsunagu embed convert {path} --trust-pickle`")
        raise UnsafeFileError(
            f"{path} is a pickle (gensim KeyedVectors.save), and loading a pickle runs any code it "
            f"contains, so tsunagu does not load it unasked. If you made it yourself, {how} (in Python: "
            "trust=True). If it came from someone else, ask for word2vec text/binary vectors or a "
            "vectors directory written by a current `tsunagu embed train`, or retrain.")
    from gensim.models import KeyedVectors

    try:
        return KeyedVectors.load(str(path))
    except Exception as e:  # noqa: BLE001 - any failure means unusable vectors
        raise ModelLoadError(f"Cannot read {path} ({type(e).__name__}: {e}): the file is truncated or not "
                             "gensim KeyedVectors. Copy it again or retrain the vectors.") from None


def write_word2vec_binary(kv_path: PathLike, out: PathLike, *, overwrite: bool = False) -> int:
    """Write the (trusted) pickled ``KeyedVectors`` of ``kv_path`` to ``out`` in word2vec's
    binary format, which ``read_word_vectors`` reads without running code. Returns the
    number of words."""
    import numpy

    kv_path, out = Path(kv_path), Path(out)
    if not kv_path.is_file():
        raise ModelNotFoundError(f"No gensim vectors file at {kv_path}.")
    check_distinct_paths(inputs={"SRC": kv_path}, outputs={"--output": out})
    refuse_existing(out, overwrite, "word2vec file")
    kv = load_pickled_vectors(kv_path, trust=True)
    words = [str(w) for w in kv.index_to_key]
    bad = next((w for w in words if not w or any(c.isspace() for c in w)), None)
    if bad is not None:
        raise EmbeddingsError(f"{kv_path} has the key {bad!r}; word2vec's format cannot hold an empty key or "
                              "one with white space.")
    vectors = numpy.asarray(kv.vectors, dtype="<f4")
    with atomic_file(out, "wb") as f:
        f.write(f"{len(words)} {vectors.shape[1]}\n".encode("utf-8"))
        for word, row in zip(words, vectors):
            # gensim's own layout: the key, a space, the raw little-endian floats.
            f.write(word.encode("utf-8") + b" " + row.tobytes())
    return len(words)


def convert_pickled_directory(vectors_dir: PathLike) -> Path:
    """Rewrite a version-1 vectors directory (pickled ``vectors.kv``) in the format that
    runs nothing when loaded; the pickle is removed. The caller vouches for the pickle."""
    vectors_dir = Path(vectors_dir)
    meta = read_meta(vectors_dir)
    if not (vectors_dir / PICKLE_FILE).is_file():
        raise EmbeddingsError(f"{vectors_dir} holds no {PICKLE_FILE}: there is nothing to convert "
                              "(a directory with vectors.npy loads without running code as it is).")
    kv = load_pickled_vectors(vectors_dir / PICKLE_FILE, trust=True)
    if len(kv) != meta["vectors"] or kv.vector_size != meta["dim"]:
        raise ModelLoadError(f"{vectors_dir / PICKLE_FILE} ({len(kv)} x {kv.vector_size}) does not match "
                             f"{vectors_dir}/meta.json; retrain the vectors.")
    write_vector_files(vectors_dir, list(kv.index_to_key), kv.vectors)
    _write_meta(vectors_dir, {**meta, "version": META_VERSION})
    for leftover in vectors_dir.glob(PICKLE_FILE + "*"):  # gensim puts big arrays beside it
        leftover.unlink()
    return vectors_dir


def load_spacy_vocab(vectors_dir: PathLike):
    """The spaCy ``Vocab`` holding the vectors of a vectors directory."""
    from spacy.vocab import Vocab

    meta = read_meta(vectors_dir)
    path = Path(vectors_dir) / "spacy_vocab"
    try:
        vocab = Vocab().from_disk(path)
    except Exception as e:  # noqa: BLE001 - truncated or garbled files: all unusable
        raise ModelLoadError(f"Cannot read the spaCy vectors in {path}: {type(e).__name__}: {e}. "
                             "The files are truncated or corrupt: copy the directory again or retrain "
                             "the vectors.") from None
    if vocab.vectors.shape != (meta["vectors"], meta["dim"]):
        raise ModelLoadError(f"{path} holds {vocab.vectors.shape} vectors but meta.json says "
                             f"({meta['vectors']}, {meta['dim']}); copy the directory again or retrain "
                             "the vectors.")
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
    overwrite: bool = False,
) -> dict[str, Any]:
    """Tokenize (cached), train and save; returns the written ``meta``. An existing
    ``out_dir`` is replaced only with ``overwrite``."""
    from .tokenized import tokenize_corpus

    check_key(key)
    settings.validate()
    # Before tokenizing and training, which take minutes.
    check_distinct_paths(inputs={"CORPUS": corpus},
                         outputs={"--output": out_dir, "--cache-dir": cache_dir})
    check_output_holds_no_input(out_dir, {"CORPUS": corpus, "--cache-dir": cache_dir})
    refuse_existing(out_dir, overwrite, "vectors directory")
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
    save_vectors(model, out_dir, meta, overwrite=overwrite)
    return read_meta(out_dir)
