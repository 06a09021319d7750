"""Streaming corpus readers.

Every reader is a generator over its files: a corpus is never held in memory
(DocBin, a single serialized blob, is the one format that must be read whole).
Each yields ``Record`` objects with a stable id. A record that cannot be read
(invalid JSON, bytes that are not UTF-8, a field of the wrong type, an id that an
earlier record has, a file that cannot be opened) raises ``CorpusError`` naming
the file and line, or, with ``on_error="reject"``, is yielded as a
``RejectedRecord`` so that batch jobs can log it and go on. What cannot be read at
all (a missing path, an unlistable top folder, a corrupt DocBin, which is one
blob) raises ``CorpusError`` in either mode.

No two items a reader yields share an id: the first record with an id keeps it,
and a later one is rejected under its location (``<file>:<line>``), so that a
resumed job, which skips ids it has done, never skips a record it has not.

Ids are strings. A JSONL id may be a JSON string or integer (``7`` becomes
``"7"``, and then is the same id as ``"7"``: the later of the two is rejected);
any other type is rejected. Strings are passed on as JSON decoded them, lone
surrogates (``"\\udc80"``, valid JSON but not Unicode text) included: in ids and
meta the batch writer keeps them, escaped, and a text holding one is the
consumer's to reject. The text itself is passed on whatever its type, for the
consumer to validate.
"""

from __future__ import annotations

import fnmatch
import json
import os
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
# Deeper JSON than this is rejected: writing it back (json.dumps, the serializer)
# recurses once per level and would exhaust Python's stack far from the reader.
MAX_JSON_DEPTH = 100
# Longest rendering of a bad value in a reason, so that a huge value gives a short line.
_SHOWN_CHARS = 60
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


def iter_texts(path: PathLike, format: Optional[str] = None, *, rejected: Optional[list] = None,
               **options: Any) -> Iterator[str]:
    """The texts of a corpus, for work that needs no ids or labels (corpus links,
    pretraining). Malformed records are skipped, not fatal: each is appended to
    ``rejected`` (a list, when given) as a ``RejectedRecord`` saying where and why."""
    for item in read_corpus(path, format, on_error="reject", **options):
        if isinstance(item, Record) and isinstance(item.text, str):
            yield item.text
        elif rejected is not None:
            rejected.append(item)


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
    """One document per line; lines of only whitespace separate nothing and are not
    documents. Ids are ``<file name>:<line number>`` (unique by construction)."""
    path = _existing(path)
    _check_on_error(on_error)
    for lineno, raw in _binary_lines(path):
        rid = f"{path.name}:{lineno}"
        text, bad = _decode(raw)
        if bad:
            yield _reject(rid, bad, rid, on_error)
        elif text.strip():
            yield Record(rid, text, location=rid)


def read_jsonl(path: PathLike, *, label_field: Optional[str] = None,
               on_error: str = "raise") -> Iterator[Item]:
    """JSON Lines: ``{"id", "text", "label" | "labels", "meta"}`` per line.

    ``id`` is a string or an integer; without one (or with ``null``) the id is
    ``<file name>:<line number>``. ``labels`` may be a list of names or a dict of
    name -> score (spaCy's ``doc.cats``; names scoring >= 0.5 count). ``label_field``
    takes the labels from another field instead, by dotted path
    (``"meta.sentiment"``). ``meta`` is an object; other top-level keys join it.
    A line that breaks these rules is rejected with its line number and the reason.
    """
    path = _existing(path)
    _check_on_error(on_error)
    ids = _Ids()
    for lineno, raw in _binary_lines(path):
        where = f"{path.name}:{lineno}"
        line, bad = _decode(raw)
        if bad is None and not line.strip():
            continue
        if bad is None:
            obj, bad = _parse_json(line)
        if bad is None and not isinstance(obj, dict):
            bad = f"line is a JSON {_json_type(obj)}, not an object"
        if bad is None:
            given = obj.get("id")
            rid, bad = _jsonl_id(given, where)
            from_int = isinstance(given, int)
        if bad is None:
            bad = ids.collision(rid, lineno, from_int, explicit=given is not None)
        if bad is not None:
            yield _reject(ids.for_reject(where, lineno), bad, where, on_error)
            continue
        ids.take(rid, lineno, from_int)
        if "text" not in obj:
            yield _reject(rid, "record has no 'text' field", where, on_error)
            continue
        meta = obj.get("meta")
        if meta is not None and not isinstance(meta, dict):
            yield _reject(rid, f"meta must be an object (got {_json_type(meta)} {_show(meta)})",
                          where, on_error)
            continue
        meta = dict(meta or {})
        meta.update({k: v for k, v in obj.items() if k not in ("id", "text", "label", "labels", "meta")})
        if _depth(obj) > MAX_JSON_DEPTH:
            yield _reject(rid, f"record is nested deeper than {MAX_JSON_DEPTH} levels", where, on_error)
            continue
        try:
            labels = _labels(obj, label_field)
        except ValueError as e:
            yield _reject(rid, str(e), where, on_error)
            continue
        yield Record(rid, obj["text"], labels, meta, location=where)


def read_text_dir(path: PathLike, *, pattern: str = "*.txt", on_error: str = "raise") -> Iterator[Item]:
    """Every file matching ``pattern`` below ``path`` (recursively, in sorted order)
    is one document; its id is the path relative to ``path``. A matching file that
    cannot be read (permissions, a dangling link, not a regular file) and a
    subfolder that cannot be listed are rejected; the rest are read."""
    root = _existing(path)
    _check_on_error(on_error)
    if not root.is_dir():
        raise CorpusError(f"{root} is not a directory.")
    _check_listable(root)
    unlistable: list[OSError] = []
    # rglob skips a folder it may not list without a word; os.walk reports it.
    for _ in os.walk(root, onerror=unlistable.append):
        pass
    for error in sorted(unlistable, key=lambda e: str(e.filename)):
        rel = _relative(Path(error.filename), root)
        yield _reject(f"{rel}/", f"cannot list the folder ({_os_reason(error)}); its files are not read",
                      f"{rel}/", on_error)
    try:
        matches = sorted(p for p in root.rglob(pattern) if not p.is_dir())
    except ValueError as e:
        raise CorpusError(f"Bad file pattern {pattern!r}: {e}") from None
    for file in matches:
        rid = file.relative_to(root).as_posix()
        content, bad = _read_text_file(file)
        if bad:
            yield _reject(rid, bad, rid, on_error)
        else:
            yield Record(rid, content, meta={"path": rid}, location=rid)


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
    _check_listable(root)
    found = sorted(d.name for d in root.iterdir() if d.is_dir())
    if not found:
        raise CorpusError(f"{root} has no category folders; is it the Livedoor 'text' folder?")
    if categories is not None and (isinstance(categories, str)
                                   or not all(isinstance(c, str) for c in categories)):
        raise CorpusError(f"categories must be a list of folder names, not {_show(categories)}.")
    # A category named twice would yield its articles twice, under the same ids.
    wanted = list(dict.fromkeys(Path(c).as_posix() for c in categories)) if categories else found
    for category in wanted:
        folder = root / category
        if not folder.is_dir():
            raise CorpusError(f"No category folder {category!r} in {root}; found: {', '.join(found)}.")
        # Listed here, not globbed: a glob skips a folder it may not list without a word.
        try:
            names = sorted(entry.name for entry in os.scandir(folder))
        except OSError as e:
            yield _reject(f"{category}/", f"cannot list the folder ({_os_reason(e)}); its articles "
                          "are not read", f"{category}/", on_error)
            continue
        for name in names:
            file = folder / name
            if not fnmatch.fnmatchcase(name, "*.txt") or name in _LIVEDOOR_NON_ARTICLES or file.is_dir():
                continue
            rid = f"{category}/{file.stem}"
            content, bad = _read_text_file(file)
            if bad:
                yield _reject(rid, bad, rid, on_error)
                continue
            lines = content.splitlines()
            if len(lines) < 3 or not lines[0].startswith("http"):
                yield _reject(rid, "not a Livedoor article (expected URL, date and title lines)", rid,
                              on_error)
                continue
            url, date, title = lines[0].strip(), lines[1].strip(), lines[2].strip()
            body = "\n".join(line for line in lines[3:] if line.strip())
            text = {"title": title, "body": body, "title+body": f"{title}\n{body}"}[fields]
            yield Record(rid, text, (category,), {"url": url, "date": date, "title": title}, location=rid)


def read_docbin(path: PathLike, *, on_error: str = "raise") -> Iterator[Item]:
    """A spaCy ``DocBin`` file. Labels are the ``doc.cats`` scoring >= 0.5; the id is
    ``doc.user_data["id"]`` (a string or an integer) where a writer stored one, else
    ``<file name>:<index>``. The file is one blob: if it cannot be decoded, nothing
    of it is read (``CorpusError``); a document with an unusable id or meta is
    rejected."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    path = _existing(path)
    _check_on_error(on_error)
    try:
        docbin = DocBin(store_user_data=True).from_disk(path)
    except Exception as e:
        raise CorpusError(f"{path} is not a readable spaCy DocBin: {e}") from e
    docs = docbin.get_docs(Vocab())
    ids = _Ids()
    for index in range(len(docbin)):
        where = f"{path.name}:{index}"
        try:
            doc = next(docs)
        except Exception as e:  # a blob that decompresses but holds malformed arrays
            raise CorpusError(f"{path} is not a readable spaCy DocBin: document {index} cannot be "
                              f"decoded ({type(e).__name__}: {e})") from e
        user = doc.user_data if isinstance(doc.user_data, dict) else {}
        stored = user.get("id")
        rid, bad = _jsonl_id(stored, where)
        from_int = isinstance(stored, int)
        if bad is None:
            bad = ids.collision(rid, index, from_int, explicit=stored is not None, unit="document")
        if bad is not None:
            yield _reject(ids.for_reject(where, index), bad, where, on_error)
            continue
        ids.take(rid, index, from_int)
        meta = user.get("meta")
        if meta is not None and not isinstance(meta, dict):
            yield _reject(rid, f"meta must be a dict (got {type(meta).__name__} {_show(meta)})",
                          where, on_error)
            continue
        if not isinstance(doc.cats, dict):
            yield _reject(rid, f"cats must be a dict (got {type(doc.cats).__name__})", where, on_error)
            continue
        labels = tuple(str(name) for name, score in doc.cats.items()
                       if isinstance(score, (int, float)) and not isinstance(score, bool) and score >= 0.5)
        yield Record(rid, doc.text, labels, dict(meta or {}), location=where)


class _Ids:
    """The ids one source has given out, so that no two items share one.

    The first record with an id keeps it; a later record with that id, and any
    record whose id is unusable, is rejected under its location (``<file>:<line>``),
    or, where an earlier record took that very string as its id, under the location
    with ``#2``, ``#3``... appended. All of it follows from the file's content, so
    the same file gives the same ids on every run.
    """

    def __init__(self) -> None:
        # id -> position of its first holder, bit-inverted (negative, 0 included) where
        # that id was an integer (for the message about ``1`` and ``"1"``); one int per
        # id keeps it small.
        self._holders: dict[str, int] = {}

    def collision(self, rid: str, pos: int, from_int: bool, explicit: bool,
                  unit: str = "line") -> Optional[str]:
        """The reason to reject ``rid`` because an earlier record has it, or ``None``."""
        held = self._holders.get(rid)
        if held is None:
            return None
        earlier, earlier_int = (~held, True) if held < 0 else (held, False)
        if not explicit:
            return (f"duplicate id (the default id {rid!r} of {unit} {pos}, which has no id, is the id "
                    f"of {unit} {earlier})")
        shown = rid if from_int else repr(rid)
        other = rid if earlier_int else repr(rid)
        how = " after normalisation to text" if from_int != earlier_int else ""
        return (f"duplicate id (id {shown} of {unit} {pos} collides with the id {other} of {unit} "
                f"{earlier}{how})")

    def take(self, rid: str, pos: int, from_int: bool) -> None:
        self._holders[rid] = ~pos if from_int else pos

    def for_reject(self, where: str, pos: int) -> str:
        rid, n = where, 1
        while rid in self._holders:
            n += 1
            rid = f"{where}#{n}"
        self.take(rid, pos, False)
        return rid


def _jsonl_id(value: Any, where: str) -> tuple[Optional[str], Optional[str]]:
    """The record's id and ``None``, or ``None`` and why its id is unusable."""
    if value is None:
        return where, None
    if isinstance(value, str):
        return value, None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value), None
    return None, (f"id must be a string or an integer (got {_json_type(value)} {_show(value)})")


def _parse_json(line: str) -> tuple[Any, Optional[str]]:
    try:
        return json.loads(line), None
    except json.JSONDecodeError as e:
        return None, f"invalid JSON ({e.msg} at column {e.colno})"
    except RecursionError:
        return None, "invalid JSON (nested too deeply to parse)"
    except ValueError as e:  # e.g. an integer of more digits than Python converts
        return None, f"invalid JSON ({e})"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _show(value: Any) -> str:
    """``value`` as JSON (as the user wrote it), else as Python shows it; either way
    ASCII, lone surrogates and control characters escaped, so that a reason is always
    printable and writable as UTF-8."""
    try:
        shown = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        try:
            shown = ascii(value)
        except (ValueError, RecursionError):  # an int too long to print, a too deep list
            shown = f"<{type(value).__name__}>"
    return shown if len(shown) <= _SHOWN_CHARS else shown[:_SHOWN_CHARS - 3] + "..."


def _depth(value: Any) -> int:
    """How deeply lists and dicts nest in ``value`` (iteratively: it is what guards
    the recursive code after it)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            if level > MAX_JSON_DEPTH:
                return level
            stack.extend((v, level + 1) for v in item if isinstance(v, (list, dict)))
    return deepest


def _existing(path: PathLike) -> Path:
    if not isinstance(path, (str, Path)):
        raise CorpusError(f"A corpus path must be a str or Path, not {type(path).__name__}.")
    p = Path(path)
    try:
        found = p.exists()
    except ValueError as e:  # a NUL byte in the path
        raise CorpusError(f"Bad corpus path {str(p)!r}: {e}") from None
    if not found:
        raise CorpusError(f"Corpus not found: {p}")
    return p


def _check_on_error(on_error: str) -> None:
    if on_error not in ON_ERROR:
        raise CorpusError(f"on_error must be one of {', '.join(ON_ERROR)}, not {on_error!r}.")


def _check_listable(folder: Path) -> None:
    try:
        os.listdir(folder)
    except OSError as e:
        raise CorpusError(f"Cannot list the corpus folder {folder}: {_os_reason(e)}.") from None


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _os_reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def _read_text_file(file: Path) -> tuple[Optional[str], Optional[str]]:
    """The file's text and ``None``, or ``None`` and why it cannot be read as UTF-8."""
    raw, bad = _read_file(file)
    return (None, bad) if bad is not None else _decode(raw)


def _read_file(file: Path) -> tuple[Optional[bytes], Optional[str]]:
    if file.is_symlink() and not file.exists():
        return None, "a symbolic link to nothing (its target is missing)"
    if not file.is_file():
        return None, "not a regular file (a device, pipe or socket is not read)"
    try:
        return file.read_bytes(), None
    except OSError as e:
        return None, f"cannot read the file ({_os_reason(e)})"


def _binary_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    # Bytes, so that one undecodable line rejects that line, not the whole file.
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            yield lineno, raw.rstrip(b"\r\n")


def _decode(raw: bytes) -> tuple[Optional[str], Optional[str]]:
    """The text and ``None``, or ``None`` and why the bytes are not UTF-8. A leading
    byte order mark is dropped (also on later lines: concatenated files keep theirs)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, f"not valid UTF-8 (byte {e.start}: {raw[e.start:e.start + 1]!r})"
    return (text[1:] if text.startswith("\ufeff") else text), None


def _reject(rid: str, reason: str, where: str, on_error: str) -> RejectedRecord:
    if on_error == "raise":
        raise CorpusError(f"{where}: {reason}" + (f" (id {rid!r})" if rid != where else ""))
    # The location goes where the id does not give it; after " (" so that the
    # batch report's summary of reasons (the text before it) stays one per kind.
    return RejectedRecord(rid, reason if rid == where else f"{reason} (at {where})", location=where)


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
        return tuple(str(k) for k, v in value.items()
                     if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0.5)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"labels must be a string, a list of strings or a dict of scores "
                     f"(got {_json_type(value)} {_show(value)})")


def _looks_like_livedoor(path: Path) -> bool:
    try:
        subdirs = sorted(d for d in path.iterdir() if d.is_dir())
        if not subdirs:
            return False
        for d in subdirs[:3]:
            articles = sorted(d.glob(f"{d.name}-*.txt"))[:1]
            if not articles:
                return False
            with open(articles[0], "rb") as f:
                if not f.readline().startswith(b"http"):
                    return False
    except OSError:  # an unreadable folder or article: not recognisably Livedoor
        return False
    return True
