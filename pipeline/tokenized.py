"""Corpora tokenized once, in parallel, into cached files for gensim's ``corpus_file`` mode.

gensim trains fastest from a file of space-separated tokens, one sentence per
line (``corpus_file=``: its Cython workers read byte ranges of the file without the
GIL). Tokenizing is done with SudachiPy alone: GiNZA's parser and NER would be
about a hundred times slower and add nothing to word keys.

The file is cached under a digest of everything that decides its content: the
corpus files (paths, sizes, modification times), the reader and its options, the
key form, the Sudachi split mode and dictionary version. The same command on the
same corpus reuses it. It is written through ``tsunagu.atomic`` (a temporary file
with a unique name, renamed), so a killed run never leaves a truncated cache and a
file or symlink planted in a shared cache directory is never written through.

Records whose text cannot be written as UTF-8 (a lone surrogate such as ``"\\ud800"``,
which JSON allows) are skipped and counted as rejected, with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Union

from tsunagu.corpora.records import lone_surrogate

from .atomic import atomic_file, write_atomically
from .errors import ConfigError, CorpusError
from .parallel import parallel_map
from .tokenizer import DEFAULT_CHUNK_BYTES, split_for_sudachi
from .vectorkeys import check_key, morpheme_key

FORMAT_VERSION = 1
CHUNK_DOCS = 200
PathLike = Union[str, Path]


@dataclass(frozen=True)
class TokenizedCorpus:
    path: Path
    key: str
    split_mode: str
    documents: int
    rejected: int
    lines: int
    tokens: int
    seconds: float
    cached: bool = False
    # why records were rejected: reason -> count
    rejected_reasons: dict = field(default_factory=dict, hash=False, compare=False)

    def stats(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        return out


def default_cache_dir() -> Path:
    return Path(os.environ.get("TSUNAGU_CACHE") or Path.home() / ".cache" / "tsunagu")


def tokenize_corpus(
    source: PathLike,
    *,
    key: str = "lemma",
    split_mode: str = "C",
    input_format: Optional[str] = None,
    reader_options: Optional[dict[str, Any]] = None,
    workers: Optional[int] = None,
    cache_dir: Optional[PathLike] = None,
    progress: bool = True,
) -> TokenizedCorpus:
    """Tokenize a corpus (any ``tsunagu.corpora`` format) into a cached key file."""
    from tsunagu.corpora import guess_format, read_corpus

    check_key(key)
    if split_mode not in ("A", "B", "C"):
        raise ConfigError(f"split_mode must be A, B or C, not {split_mode!r}.")
    source = Path(source)
    if not source.exists():
        raise CorpusError(f"Corpus not found: {source}")
    fmt = input_format or guess_format(source)
    reader_options = dict(reader_options or {})
    workers = workers or os.cpu_count() or 1
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    digest = _digest(source, fmt, reader_options, key, split_mode)
    path, stats_path = cache / f"tokens-{digest}.txt", cache / f"tokens-{digest}.json"
    cached = _read_cached(path, stats_path)
    if cached is not None:
        return cached

    records = read_corpus(source, fmt, on_error="reject", **reader_options)
    texts = _Texts(records)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(unit="doc", desc="tokenize", dynamic_ncols=True)
    started = time.perf_counter()
    documents = lines = tokens = 0
    try:
        with atomic_file(path, "w", encoding="utf-8") as out:
            chunks = _chunked(texts.iter(), CHUNK_DOCS)
            for chunk, (chunk_lines, n_tokens) in parallel_map(
                _ChunkTokenizer(key, split_mode), chunks, workers
            ):
                for line in chunk_lines:
                    out.write(line)
                    out.write("\n")
                documents += len(chunk)
                lines += len(chunk_lines)
                tokens += n_tokens
                if bar is not None:
                    bar.update(len(chunk))
                    bar.set_postfix(tokens=tokens, refresh=False)
            if tokens == 0:
                # Raised inside the block: the empty file is discarded, not cached.
                raise CorpusError(
                    f"The corpus {source} has no tokens to train on ({documents} documents read, "
                    f"{texts.rejected} rejected{texts.reasons_text()})."
                )
        seconds = time.perf_counter() - started
        result = TokenizedCorpus(path, key, split_mode, documents, texts.rejected, lines, tokens, seconds,
                                 rejected_reasons=dict(texts.reasons))
        stats = result.stats()
        del stats["path"], stats["cached"]
        write_atomically(stats_path, json.dumps(stats, ensure_ascii=False).encode("utf-8"))
        return result
    finally:
        if bar is not None:
            bar.close()


def _read_cached(path: Path, stats_path: Path) -> Optional[TokenizedCorpus]:
    """The cached tokenization, or None when there is none or its record is unreadable
    (then it is made again)."""
    if not (path.is_file() and stats_path.is_file()):
        return None
    try:
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
        stats.update(path=path, cached=True)
        return TokenizedCorpus(**stats)
    except (ValueError, TypeError, UnicodeDecodeError):
        return None


class _Texts:
    """Texts of the readable records; counts the others."""

    def __init__(self, records: Iterable) -> None:
        self.records, self.rejected = records, 0
        self.reasons: Counter = Counter()

    def iter(self) -> Iterator[str]:
        from tsunagu.corpora import Record

        for item in self.records:
            if isinstance(item, Record):
                why = text_problem(item.text)
            else:
                # A RejectedRecord's own reason names its line; counted by kind here.
                why = "unreadable"
            if why is None:
                yield item.text
            else:
                self.rejected += 1
                self.reasons[why] += 1

    def reasons_text(self) -> str:
        return "".join(f"; {n} {why}" for why, n in self.reasons.items())


INVALID_UNICODE = "with text that is not valid Unicode (a lone surrogate)"


def text_problem(text) -> Optional[str]:
    """Why a record's text cannot be tokenized, or None when it can."""
    if not isinstance(text, str) or not text.strip():
        return "without text"
    if lone_surrogate(text) is not None:
        # JSON allows "\\ud800"; SudachiPy and the UTF-8 cache do not.
        return INVALID_UNICODE
    return None


def _chunked(items: Iterator[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_SUDACHI: dict[tuple[int, str], Any] = {}


def sudachi_tokenizer(split_mode: str):
    """One SudachiPy tokenizer per process and split mode."""
    ident = (os.getpid(), split_mode)
    if ident not in _SUDACHI:
        from sudachipy import Dictionary, SplitMode

        _SUDACHI[ident] = Dictionary().create(getattr(SplitMode, split_mode))
    return _SUDACHI[ident]


def keys_of_text(text: str, key: str, split_mode: str) -> list[list[str]]:
    """Token keys of ``text``, one list per non-empty line."""
    tokenizer = sudachi_tokenizer(split_mode)
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        keys: list[str] = []
        for piece in split_for_sudachi(line, DEFAULT_CHUNK_BYTES):
            for m in tokenizer.tokenize(piece):
                k = morpheme_key(m, key)
                if k is not None:
                    keys.append(k)
        if keys:
            out.append(keys)
    return out


class _ChunkTokenizer:
    """Picklable worker function (a closure would not be)."""

    def __init__(self, key: str, split_mode: str) -> None:
        self.key, self.split_mode = key, split_mode

    def __call__(self, texts: list[str]) -> tuple[list[str], int]:
        lines, tokens = [], 0
        for text in texts:
            for keys in keys_of_text(text, self.key, self.split_mode):
                lines.append(" ".join(keys))
                tokens += len(keys)
        return lines, tokens


def corpus_fingerprint(source: Path) -> str:
    """Changes whenever a file of the corpus is added, removed or modified."""
    h = hashlib.sha256()
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8"))
    return h.hexdigest()


def _digest(source: Path, fmt: str, reader_options: dict, key: str, split_mode: str) -> str:
    try:
        dictionary = metadata.version("SudachiDict-core")
    except metadata.PackageNotFoundError:
        dictionary = "unknown"
    parts = {
        "format_version": FORMAT_VERSION,
        "corpus": corpus_fingerprint(source),
        "reader": [fmt, reader_options],
        "key": key,
        "split_mode": split_mode,
        "sudachi_dict": dictionary,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()[:20]
