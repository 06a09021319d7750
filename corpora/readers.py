"""Streaming corpus readers.

Every reader is a generator over its files: a corpus is never held in memory
(DocBin, a single serialized blob, is the one format that must be read whole).
Each yields ``Record`` objects with a stable id. A record that cannot be read
(invalid JSON, bytes that are not UTF-8, a malformed article) raises
``CorpusError`` naming the file and line, or, with ``on_error="reject"``, is yielded
as a ``RejectedRecord`` so that batch jobs can log it and go on.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

from tsunagu.errors import CorpusError

from .records import Record, RejectedRecord

PathLike = Union[str, Path]
Item = Union[Record, RejectedRecord]
ON_ERROR = ("raise", "reject")
FORMATS = ("text", "jsonl", "dir", "livedoor", "docbin")
LIVEDOOR_FIELDS = ("title", "body", "title+body")
# Files in the Livedoor archive that are not articles.
_LIVEDOOR_NON_ARTICLES = {"LICENSE.txt", "README.txt", "CHANGES.txt"}


def sample_corpus_path() -> Path:
    """The Japanese sample corpus shipped with tsunagu (300 documents, JSONL, with
    category labels and sentiment in ``meta``)."""
    return Path(str(resources.files("tsunagu.corpora") / "sample" / "ja_sample.jsonl"))


def read_corpus(path: PathLike, format: Optional[str] = None, **options: Any) -> Iterator[Item]:
    """Read any supported corpus; ``format`` is guessed from the path when omitted."""
    path = _existing(path)
    fmt = format or guess_format(path)
    readers: dict[str, Callable[..., Iterator[Item]]] = {
        "text": read_text_lines,
        "jsonl": read_jsonl,
        "dir": read_text_dir,
        "livedoor": read_livedoor,
        "docbin": read_docbin,
    }
    if fmt not in readers:
        raise CorpusError(f"Unknown corpus format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    return readers[fmt](path, **options)


def guess_format(path: PathLike) -> str:
    path = Path(path)
    if path.is_dir():
        if _looks_like_livedoor(path) or (path / "text").is_dir() and _looks_like_livedoor(path / "text"):
            return "livedoor"
        return "dir"
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".spacy", ".docbin"):
        return "docbin"
    return "text"


def read_text_lines(path: PathLike, *, on_error: str = "raise") -> Iterator[Item]:
    """One document per line; blank lines separate nothing and are not documents.
    Ids are ``<file name>:<line number>``."""
    path = _existing(path)
    _check_on_error(on_error)
    for lineno, raw in _binary_lines(path):
        rid = f"{path.name}:{lineno}"
        text = _decode(raw, rid, on_error)
        if isinstance(text, RejectedRecord):
            yield text
        elif text.strip():
            yield Record(rid, text)


def read_jsonl(path: PathLike, *, label_field: Optional[str] = None,
               on_error: str = "raise") -> Iterator[Item]:
    """JSON Lines: ``{"id", "text", "label" | "labels", "meta"}`` per line.

    ``labels`` may be a list of names or a dict of name -> score (spaCy's
    ``doc.cats``; names scoring >= 0.5 count). ``label_field`` takes the labels from
    another field instead, by dotted path (``"meta.sentiment"``). Other top-level
    keys join ``meta``. Records without ``id`` get ``<file name>:<line number>``.
    """
    path = _existing(path)
    _check_on_error(on_error)
    for lineno, raw in _binary_lines(path):
        where = f"{path.name}:{lineno}"
        line = _decode(raw, where, on_error)
        if isinstance(line, RejectedRecord):
            yield line
            continue
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            yield _reject(where, f"invalid JSON ({e.msg} at column {e.colno})", on_error)
            continue
        if not isinstance(obj, dict):
            yield _reject(where, f"line is a JSON {type(obj).__name__}, not an object", on_error)
            continue
        rid = str(obj["id"]) if obj.get("id") is not None else where
        if "text" not in obj:
            yield _reject(rid, "record has no 'text' field", on_error)
            continue
        meta = dict(obj.get("meta") or {})
        meta.update({k: v for k, v in obj.items() if k not in ("id", "text", "label", "labels", "meta")})
        try:
            labels = _labels(obj, label_field)
        except ValueError as e:
            yield _reject(rid, str(e), on_error)
            continue
        yield Record(rid, obj["text"], labels, meta)


def read_text_dir(path: PathLike, *, pattern: str = "*.txt", on_error: str = "raise") -> Iterator[Item]:
    """Every file matching ``pattern`` below ``path`` (recursively, in sorted order)
    is one document; its id is the path relative to ``path``."""
    root = _existing(path)
    _check_on_error(on_error)
    if not root.is_dir():
        raise CorpusError(f"{root} is not a directory.")
    for file in sorted(p for p in root.rglob(pattern) if p.is_file()):
        rid = file.relative_to(root).as_posix()
        text = _decode(file.read_bytes(), rid, on_error)
        if isinstance(text, RejectedRecord):
            yield text
        else:
            yield Record(rid, text, meta={"path": rid})


def read_livedoor(path: PathLike, *, fields: str = "title+body",
                  categories: Optional[list[str]] = None, on_error: str = "raise") -> Iterator[Item]:
    """The Livedoor news corpus (ldcc): a folder per category, each article a file of
    URL, date, title and body lines. The label is the category; ``fields`` picks the
    text (``title``, ``body`` or ``title+body``, joined by a newline). Ids are
    ``<category>/<file stem>``; URL, date and title go to ``meta``.
    """
    root = _existing(path)
    _check_on_error(on_error)
    if fields not in LIVEDOOR_FIELDS:
        raise CorpusError(f"fields must be one of {', '.join(LIVEDOOR_FIELDS)}, not {fields!r}.")
    if (root / "text").is_dir() and not _looks_like_livedoor(root):
        root = root / "text"
    found = sorted(d.name for d in root.iterdir() if d.is_dir())
    if not found:
        raise CorpusError(f"{root} has no category folders; is it the Livedoor 'text' folder?")
    for category in categories or found:
        folder = root / category
        if not folder.is_dir():
            raise CorpusError(f"No category folder {category!r} in {root}; found: {', '.join(found)}.")
        for file in sorted(folder.glob("*.txt")):
            if file.name in _LIVEDOOR_NON_ARTICLES:
                continue
            rid = f"{category}/{file.stem}"
            content = _decode(file.read_bytes(), rid, on_error)
            if isinstance(content, RejectedRecord):
                yield content
                continue
            lines = content.splitlines()
            if len(lines) < 3 or not lines[0].startswith("http"):
                yield _reject(rid, "not a Livedoor article (expected URL, date and title lines)", on_error)
                continue
            url, date, title = lines[0].strip(), lines[1].strip(), lines[2].strip()
            body = "\n".join(line for line in lines[3:] if line.strip())
            text = {"title": title, "body": body, "title+body": f"{title}\n{body}"}[fields]
            yield Record(rid, text, (category,), {"url": url, "date": date, "title": title})


def read_docbin(path: PathLike, *, on_error: str = "raise") -> Iterator[Item]:
    """A spaCy ``DocBin`` file. Labels are the ``doc.cats`` scoring >= 0.5; the id is
    ``doc.user_data["id"]`` where a writer stored one, else ``<file name>:<index>``."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    path = _existing(path)
    _check_on_error(on_error)
    try:
        docbin = DocBin(store_user_data=True).from_disk(path)
    except Exception as e:
        raise CorpusError(f"{path} is not a readable spaCy DocBin: {e}") from e
    for index, doc in enumerate(docbin.get_docs(Vocab())):
        rid = str(doc.user_data.get("id") or f"{path.name}:{index}")
        labels = tuple(name for name, score in doc.cats.items() if score >= 0.5)
        meta = doc.user_data.get("meta") or {}
        yield Record(rid, doc.text, labels, dict(meta))


def _existing(path: PathLike) -> Path:
    if not isinstance(path, (str, Path)):
        raise CorpusError(f"A corpus path must be a str or Path, not {type(path).__name__}.")
    p = Path(path)
    if not p.exists():
        raise CorpusError(f"Corpus not found: {p}")
    return p


def _check_on_error(on_error: str) -> None:
    if on_error not in ON_ERROR:
        raise CorpusError(f"on_error must be one of {', '.join(ON_ERROR)}, not {on_error!r}.")


def _binary_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    # Bytes, so that one undecodable line rejects that line, not the whole file.
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            yield lineno, raw.rstrip(b"\r\n")


def _decode(raw: bytes, rid: str, on_error: str) -> Union[str, RejectedRecord]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return _reject(rid, f"not valid UTF-8 (byte {e.start}: {raw[e.start:e.start + 1]!r})", on_error)
    return text[1:] if text.startswith("\ufeff") else text


def _reject(rid: str, reason: str, on_error: str) -> RejectedRecord:
    if on_error == "raise":
        raise CorpusError(f"{rid}: {reason}")
    return RejectedRecord(rid, reason)


def _labels(obj: dict, label_field: Optional[str]) -> tuple[str, ...]:
    if label_field:
        value: Any = obj
        for part in label_field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    elif obj.get("labels") is not None:
        value = obj["labels"]
    else:
        value = obj.get("label")
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, dict):
        return tuple(str(k) for k, v in value.items() if isinstance(v, (int, float)) and v >= 0.5)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"labels must be a string, a list of strings or a dict of scores, not {value!r}")


def _looks_like_livedoor(path: Path) -> bool:
    subdirs = [d for d in path.iterdir() if d.is_dir()]
    if not subdirs:
        return False
    for d in subdirs[:3]:
        articles = [f for f in d.glob(f"{d.name}-*.txt")][:1]
        if not articles:
            return False
        with open(articles[0], "rb") as f:
            if not f.readline().startswith(b"http"):
                return False
    return True
