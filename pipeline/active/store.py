"""The label database: every annotation a row in SQLite, never lost.

Durability
    The database runs in WAL mode with ``synchronous=FULL``, and every annotation,
    skip or undo is one ``BEGIN IMMEDIATE ... COMMIT`` transaction that returns only
    after the commit. A killed process (``kill -9``, a crash, a closed terminal)
    therefore loses nothing that was acknowledged and never leaves half a row:
    SQLite rolls an unfinished transaction back on the next open. ``FULL`` (an fsync
    of the WAL at every commit) also keeps committed labels through a power loss or
    OS crash, which ``NORMAL`` does not; a person labels a few examples a second at
    most, and an fsync costs milliseconds, so the safer setting is free here.

History
    Rows are never deleted or rewritten except to mark them undone: ``undo`` sets
    ``undone`` (a time) on the annotator's latest active row. An example's current
    state is its latest row that is not undone: a label (``action='label'``) or a
    skip. Relabelling adds a row; the old one stays as history.

Errors
    Every SQLite or OS error comes out as an :class:`ActiveLearningError` that names
    the file and the fix: a database another process holds locked reads as "in
    use" (after ``timeout`` seconds of waiting), never as corruption; a file that is
    not SQLite, or an SQLite database without tsunagu's tables, reads as "not a
    tsunagu label store"; a missing or unwritable folder says so.

Text
    Ids, texts and labels are stored as UTF-8. A string that cannot be (a lone
    surrogate such as ``"\ud800"``, which is valid JSON) is refused, not escaped:
    an escaped text would no longer hash to the source's text.

Several annotators
    Each annotator's answer to an example is their latest row for it that is not
    undone (:meth:`LabelStore.answers`). A reviewer's decision on a disagreement is
    a row of its own table (``reviews``, undone the same way, never deleted), and
    an example's final label is the reviewed one, else the majority of the
    answers, else the single answer (:meth:`LabelStore.final_labels`).

Changed sources
    Each row keeps the sha256 of the text that was labelled (and the text itself,
    so exports need no source). :meth:`LabelStore.changed` finds examples whose text
    in the source differs now; a session treats them as unlabelled again.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

from tsunagu.corpora.records import lone_surrogate

from ..atomic import check_distinct_paths, refuse_existing, write_atomically
from .errors import ActiveLearningError

# 2 added the reviews table; a version 1 store is upgraded in place when opened.
SCHEMA_VERSION = 2
PathLike = Union[str, Path]
# Seconds to wait for another process's write lock before saying the store is in
# use; an annotator's write takes milliseconds, so a longer wait means a held lock.
DEFAULT_TIMEOUT = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    labels TEXT NOT NULL,
    source TEXT,
    settings TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    opened REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS annotations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    example_id TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    text TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('label', 'skip')),
    labels TEXT NOT NULL,
    annotator TEXT NOT NULL,
    created REAL NOT NULL,
    undone REAL
);
CREATE INDEX IF NOT EXISTS annotations_example ON annotations (session_id, example_id);
CREATE INDEX IF NOT EXISTS annotations_active ON annotations (session_id, annotator, undone);
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    example_id TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    labels TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    created REAL NOT NULL,
    undone REAL
);
CREATE INDEX IF NOT EXISTS reviews_example ON reviews (session_id, example_id);
"""


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def unencodable(value: Any) -> bool:
    """Whether ``value`` (a string, or a list of them) cannot be written as UTF-8:
    a lone surrogate, which JSON's ``"\\ud800"`` escape produces."""
    if isinstance(value, str):
        return lone_surrogate(value) is not None
    if isinstance(value, (list, tuple)):
        return any(unencodable(v) for v in value)
    return False


def _locked(e: sqlite3.Error) -> bool:
    text = str(e).lower()
    return "locked" in text or "busy" in text


def store_error(path: Path, e: BaseException, action: str = "use") -> ActiveLearningError:
    """The message for an SQLite or OS error on the label store ``path``."""
    text = str(e)
    lower = text.lower()
    if isinstance(e, sqlite3.Error) and _locked(e):
        return ActiveLearningError(
            f"the label store {path} is in use by another process (locked); close the other "
            "session or wait, then run the command again")
    if "not a database" in lower or "malformed" in lower or "corrupt" in lower:
        return ActiveLearningError(
            f"{path} is not a tsunagu label store, or it is corrupt ({text}); give the path of a "
            "label database (--db) or move this file away")
    if "readonly" in lower or "read-only" in lower:
        return ActiveLearningError(
            f"cannot write to the label store {path}: it (or its folder) is read-only; make it "
            "writable or copy it somewhere writable")
    if "unable to open" in lower or isinstance(e, PermissionError):
        return ActiveLearningError(
            f"cannot open the label store {path} ({text}): its folder {path.parent} is missing, "
            "not writable, or the path is a folder; give another --db or fix the permissions")
    if "full" in lower:
        return ActiveLearningError(f"cannot write to the label store {path}: the disk is full "
                                   f"({text}); free some space and run the command again")
    return ActiveLearningError(f"cannot {action} the label store {path}: {text}")


@dataclass(frozen=True)
class Session:
    id: int
    name: str
    labels: list[str]
    source: Optional[str]
    settings: dict[str, Any]
    created: float


@dataclass(frozen=True)
class Review:
    """A reviewer's final label for an example the annotators disagree on."""

    id: int
    example_id: str
    text_hash: str
    labels: list[str]
    reviewer: str
    created: float

    @property
    def label(self) -> Optional[str]:
        return self.labels[0] if self.labels else None


@dataclass(frozen=True)
class FinalLabel:
    """An example's label for export and training, and how it was decided:
    ``"review"``, ``"majority"`` (of several answers), ``"single"`` (one answer)
    or ``"tie"`` (answers split evenly and not reviewed: ``labels`` is empty)."""

    example_id: str
    text: str
    text_hash: str
    labels: list[str]
    decided_by: str
    answers: list["Annotation"]
    review: Optional[Review] = None

    @property
    def label(self) -> Optional[str]:
        return self.labels[0] if self.labels else None


@dataclass(frozen=True)
class Annotation:
    id: int
    example_id: str
    text: str
    text_hash: str
    action: str
    labels: list[str]
    annotator: str
    created: float
    undone: Optional[float]

    @property
    def label(self) -> Optional[str]:
        return self.labels[0] if self.labels else None


class LabelStore:
    """A label database file. Use as a context manager or call :meth:`close`.

    ``threads=True`` lets several threads use it; the caller then serializes the
    calls (one lock, as :class:`~tsunagu.active.team.TeamSession` does)."""

    def __init__(self, path: PathLike, *, timeout: float = DEFAULT_TIMEOUT, threads: bool = False) -> None:
        self.path = Path(path)
        self.timeout = timeout
        folder = self.path.parent
        if not folder.is_dir():
            raise ActiveLearningError(
                f"cannot create the label store {self.path}: the folder {folder} does not exist; "
                "create it or give another --db")
        if self.path.is_dir():
            raise ActiveLearningError(f"the label store {self.path} is a folder; give a file path (--db)")
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None,
                                        check_same_thread=not threads)
        except (sqlite3.Error, OSError) as e:
            raise store_error(self.path, e, "open") from e
        try:
            self._open()
        except BaseException:
            self.conn.close()
            raise

    def _open(self) -> None:
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            with self._transaction():
                tables = {r[0] for r in self.conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'")}
                # Someone else's SQLite file: adding our tables to it would change it.
                if tables and "meta" not in tables:
                    raise ActiveLearningError(
                        f"{self.path} is an SQLite database but not a tsunagu label store (it has "
                        f"tables {', '.join(sorted(tables)[:5])}); give the path of a label "
                        "database (--db) or a new file")
                for stmt in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                    self.conn.execute(stmt)
                self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                                  (str(SCHEMA_VERSION),))
                # Version 1 lacked only the reviews table, which the schema above adds.
                self.conn.execute("UPDATE meta SET value=? WHERE key='schema_version' AND value='1'",
                                  (str(SCHEMA_VERSION),))
            row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except (sqlite3.Error, OSError) as e:
            raise store_error(self.path, e, "open") from e
        try:
            version = int(row[0])
        except (TypeError, ValueError):
            raise ActiveLearningError(f"{self.path} is not a tsunagu label store (its schema version "
                                      f"is {row[0]!r}); give the path of a label database (--db)") from None
        if version != SCHEMA_VERSION:
            raise ActiveLearningError(f"{self.path} has label-store schema {version}; this tsunagu "
                                      f"reads schema {SCHEMA_VERSION}")

    # -- plumbing
    def _transaction(self):
        store = self

        class _Tx:
            def __enter__(self_):
                try:
                    store.conn.execute("BEGIN IMMEDIATE")
                except sqlite3.Error as e:
                    raise store_error(store.path, e) from e

            def __exit__(self_, exc_type, exc, tb):
                if exc_type is None:
                    try:
                        store.conn.execute("COMMIT")
                    except sqlite3.Error as e:
                        store._rollback()
                        raise store_error(store.path, e) from e
                    return False
                store._rollback()
                if isinstance(exc, (sqlite3.Error, OSError)):
                    raise store_error(store.path, exc) from exc
                return False

        return _Tx()

    def _rollback(self) -> None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the original error is the one to report

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "LabelStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def secret(self, name: str) -> str:
        """A random secret kept in the store (created on first use), the same for
        every process that opens it: the web page's cross-site request token, so
        that open pages keep working when the server restarts."""
        import secrets

        key = f"secret:{name}"
        with self._transaction():
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (key, secrets.token_urlsafe(32)))
            return self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()[0]

    def integrity_check(self) -> str:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0]

    # -- sessions
    def open_session(self, name: str, labels: Optional[Sequence[str]] = None, *,
                     source: Optional[str] = None, settings: Optional[dict] = None) -> Session:
        """The session ``name``, created with ``labels`` if new. An existing session
        keeps its labels: giving different ones is an error (their indices are keys)."""
        if not name or not name.strip():
            raise ActiveLearningError("a session needs a name")
        now = time.time()
        with self._transaction():
            row = self.conn.execute("SELECT id, labels FROM sessions WHERE name=?", (name,)).fetchone()
            if row is None:
                labels = _check_labels(labels)
                self.conn.execute(
                    "INSERT INTO sessions (name, labels, source, settings, created, opened) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (name, json.dumps(labels, ensure_ascii=False), source,
                     json.dumps(settings or {}, ensure_ascii=False), now, now))
            else:
                old = json.loads(row[1])
                if labels is not None and list(labels) != old:
                    raise ActiveLearningError(
                        f"session {name!r} has labels {','.join(old)}, not {','.join(labels)}; "
                        "give the same labels (in the same order) or start another session")
                self.conn.execute("UPDATE sessions SET opened=? WHERE id=?", (now, row[0]))
                if settings is not None:
                    self.conn.execute("UPDATE sessions SET settings=? WHERE id=?",
                                      (json.dumps(settings, ensure_ascii=False), row[0]))
                if source is not None:
                    self.conn.execute("UPDATE sessions SET source=? WHERE id=?", (source, row[0]))
        return self.session(name)

    def session(self, name: str) -> Session:
        row = self.conn.execute("SELECT id, name, labels, source, settings, created FROM sessions "
                                "WHERE name=?", (name,)).fetchone()
        if row is None:
            known = [r[0] for r in self.conn.execute("SELECT name FROM sessions ORDER BY id")]
            raise ActiveLearningError(f"no session {name!r} in {self.path}"
                                      + (f" (sessions: {', '.join(known)})" if known else ""))
        return Session(row[0], row[1], json.loads(row[2]), row[3], json.loads(row[4]), row[5])

    def sessions(self) -> list[Session]:
        names = [r[0] for r in self.conn.execute("SELECT name FROM sessions ORDER BY id")]
        return [self.session(n) for n in names]

    # -- writing
    def annotate(self, session: Session, example_id: str, text: str, labels: Union[str, Sequence[str]],
                 annotator: str = "anonymous") -> int:
        """Record a label (or labels) for an example; committed when this returns."""
        labels = [labels] if isinstance(labels, str) else list(labels)
        unknown = [l for l in labels if l not in session.labels]
        if not labels or unknown:
            raise ActiveLearningError(f"labels {unknown or labels} are not among the session's "
                                      f"{session.labels}")
        return self._insert(session, example_id, text, "label", labels, annotator)

    def skip(self, session: Session, example_id: str, text: str, annotator: str = "anonymous") -> int:
        return self._insert(session, example_id, text, "skip", [], annotator)

    def _insert(self, session, example_id, text, action, labels, annotator) -> int:
        for name, value in (("id", str(example_id)), ("text", text), ("annotator", annotator)):
            if not isinstance(value, str) or unencodable(value):
                raise ActiveLearningError(
                    f"example {example_id!r}: its {name} is not valid Unicode text (a lone surrogate "
                    "such as \\ud800); fix the source")
        with self._transaction():
            cur = self.conn.execute(
                "INSERT INTO annotations (session_id, example_id, text_hash, text, action, labels, "
                "annotator, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (session.id, str(example_id), text_hash(text), text, action,
                 json.dumps(labels, ensure_ascii=False), annotator, time.time()))
            return int(cur.lastrowid)

    def undo(self, session: Session, annotator: Optional[str] = None) -> Optional[Annotation]:
        """Mark the latest active annotation (of ``annotator``, if given) undone and
        return it; None when there is nothing to undo."""
        with self._transaction():
            sql = "SELECT id FROM annotations WHERE session_id=? AND undone IS NULL"
            args: list[Any] = [session.id]
            if annotator is not None:
                sql += " AND annotator=?"
                args.append(annotator)
            row = self.conn.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
            if row is None:
                return None
            self.conn.execute("UPDATE annotations SET undone=? WHERE id=?", (time.time(), row[0]))
        return self._annotation(row[0])

    def review(self, session: Session, example_id: str, text: str, labels: Union[str, Sequence[str]],
               reviewer: str) -> int:
        """Record a reviewer's final label for an example; committed when this
        returns. Earlier reviews stay as history."""
        labels = [labels] if isinstance(labels, str) else list(labels)
        unknown = [l for l in labels if l not in session.labels]
        if not labels or unknown:
            raise ActiveLearningError(f"labels {unknown or labels} are not among the session's "
                                      f"{session.labels}")
        for name, value in (("id", str(example_id)), ("text", text), ("reviewer", reviewer)):
            if not isinstance(value, str) or unencodable(value):
                raise ActiveLearningError(f"example {example_id!r}: its {name} is not valid Unicode text")
        with self._transaction():
            cur = self.conn.execute(
                "INSERT INTO reviews (session_id, example_id, text_hash, labels, reviewer, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (session.id, str(example_id), text_hash(text), json.dumps(labels, ensure_ascii=False),
                 reviewer, time.time()))
            return int(cur.lastrowid)

    def undo_review(self, session: Session, reviewer: str) -> Optional[Review]:
        """Mark ``reviewer``'s latest active review undone and return it (None when
        there is none)."""
        with self._transaction():
            row = self.conn.execute(
                "SELECT id, example_id, text_hash, labels, reviewer, created FROM reviews "
                "WHERE session_id=? AND reviewer=? AND undone IS NULL ORDER BY id DESC LIMIT 1",
                (session.id, reviewer)).fetchone()
            if row is None:
                return None
            self.conn.execute("UPDATE reviews SET undone=? WHERE id=?", (time.time(), row[0]))
        return Review(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5])

    def import_records(self, session: Session, records: Iterable[Any], annotator: str = "import",
                       overwrite: bool = False) -> "ImportReport":
        """Existing labels (records with ``id``, ``text``, ``labels``) into the session,
        in one transaction. Examples already labelled keep their label unless
        ``overwrite``.

        Nothing in the input stops the import: a record that cannot be stored is
        left out and listed in the report's ``rejected`` with its location and the
        reason. That is a ``RejectedRecord`` from a reader (bad JSON, bytes that are
        not UTF-8...), a text that is not a string or is blank, labels that are not
        the session's, and an id, text or label that is not valid Unicode (a lone
        surrogate such as ``"\\ud800"``, valid JSON): such lines are rejected, not
        stored escaped, because an escaped text would no longer match its source.
        Other fields (``meta``, extra keys) are not stored and are not checked. An
        id met again later in the input is a duplicate: the first occurrence counts
        and the later ones are listed in ``duplicates`` (the readers reject them
        already; those rejections are counted as duplicates too).

        Each entry of the report names the record's ``location`` (``file.jsonl:12``)
        where it has one, else its id."""
        from ..corpora import RejectedRecord

        if not isinstance(annotator, str) or unencodable(annotator):
            raise ActiveLearningError(f"the annotator {annotator!r} is not valid Unicode text")
        current = {a.example_id: a for a in self.current(session)}
        report = ImportReport()
        now = time.time()
        rows = []
        seen: set[str] = set()
        for r in records:
            where = getattr(r, "location", None) or str(r.id)
            if isinstance(r, RejectedRecord):
                reason = r.reason.removesuffix(f" (at {where})")  # the location is given apart
                # The reader's words for an id an earlier record has (corpora.readers).
                (report.duplicates if reason.startswith("duplicate id") else report.rejected).append(
                    (where, reason))
                continue
            if not r.labels:
                report.unlabelled += 1  # nothing of it is stored, so nothing to check
                continue
            problem = _import_problem(r, session)
            if problem is not None:
                report.rejected.append((where, problem))
                continue
            rid = str(r.id)
            if rid in seen:
                report.duplicates.append((where, f"id {rid!r} was met before; this one is left out"))
                continue
            seen.add(rid)
            old = current.get(rid)
            if old is not None and old.action == "label" and (not overwrite or old.labels == list(r.labels)):
                report.kept += 1
                continue
            rows.append((session.id, rid, text_hash(r.text), r.text, "label",
                         json.dumps(list(r.labels), ensure_ascii=False), annotator, now))
        with self._transaction():
            self.conn.executemany(
                "INSERT INTO annotations (session_id, example_id, text_hash, text, action, labels, "
                "annotator, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        report.imported = len(rows)
        return report

    # -- reading
    def _annotation(self, row_id: int) -> Annotation:
        row = self.conn.execute(
            "SELECT id, example_id, text, text_hash, action, labels, annotator, created, undone "
            "FROM annotations WHERE id=?", (row_id,)).fetchone()
        return _to_annotation(row)

    def history(self, session: Session) -> list[Annotation]:
        """Every row, undone ones included, oldest first."""
        rows = self.conn.execute(
            "SELECT id, example_id, text, text_hash, action, labels, annotator, created, undone "
            "FROM annotations WHERE session_id=? ORDER BY id", (session.id,)).fetchall()
        return [_to_annotation(r) for r in rows]

    def current(self, session: Session) -> list[Annotation]:
        """Each example's latest annotation that is not undone (labels and skips)."""
        rows = self.conn.execute(
            "SELECT a.id, a.example_id, a.text, a.text_hash, a.action, a.labels, a.annotator, "
            "a.created, a.undone FROM annotations a JOIN ("
            "  SELECT example_id, MAX(id) AS id FROM annotations"
            "  WHERE session_id=? AND undone IS NULL GROUP BY example_id) m ON a.id = m.id "
            "ORDER BY a.id", (session.id,)).fetchall()
        return [_to_annotation(r) for r in rows]

    def answers(self, session: Session, example_id: Optional[str] = None,
                annotator: Optional[str] = None) -> list[Annotation]:
        """Each annotator's latest annotation of each example that is not undone
        (labels and skips), oldest first; only ``example_id``'s or ``annotator``'s
        when given."""
        where, args = "session_id=? AND undone IS NULL", [session.id]
        if example_id is not None:
            where += " AND example_id=?"
            args.append(str(example_id))
        if annotator is not None:
            where += " AND annotator=?"
            args.append(annotator)
        rows = self.conn.execute(
            "SELECT a.id, a.example_id, a.text, a.text_hash, a.action, a.labels, a.annotator, "
            "a.created, a.undone FROM annotations a JOIN ("
            f"  SELECT MAX(id) AS id FROM annotations WHERE {where} GROUP BY example_id, annotator"
            ") m ON a.id = m.id ORDER BY a.id", args).fetchall()
        return [_to_annotation(r) for r in rows]

    def reviews(self, session: Session) -> dict[str, Review]:
        """Each reviewed example's latest review that is not undone, by example id."""
        rows = self.conn.execute(
            "SELECT r.id, r.example_id, r.text_hash, r.labels, r.reviewer, r.created FROM reviews r "
            "JOIN (SELECT MAX(id) AS id FROM reviews WHERE session_id=? AND undone IS NULL "
            "GROUP BY example_id) m ON r.id = m.id ORDER BY r.id", (session.id,)).fetchall()
        return {r[1]: Review(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows}

    def final_labels(self, session: Session) -> list[FinalLabel]:
        """Every labelled example's final label: the review, else the majority of
        the annotators' labels, else the single label; a tie without a review is
        returned with ``decided_by="tie"`` and no labels. In order of the first
        answer. A review made for another text of the example (the source changed
        since) does not count."""
        by_example: dict[str, list[Annotation]] = {}
        for a in self.answers(session):
            if a.action == "label":
                by_example.setdefault(a.example_id, []).append(a)
        reviews = self.reviews(session)
        out = []
        for eid, answers in by_example.items():
            latest = max(answers, key=lambda a: a.id)
            review = reviews.get(eid)
            if review is not None and review.text_hash == latest.text_hash:
                out.append(FinalLabel(eid, latest.text, latest.text_hash, list(review.labels), "review",
                                      answers, review))
                continue
            if len(answers) == 1:
                out.append(FinalLabel(eid, latest.text, latest.text_hash, list(latest.labels), "single",
                                      answers))
                continue
            votes: dict[tuple, int] = {}
            for a in answers:
                votes[tuple(a.labels)] = votes.get(tuple(a.labels), 0) + 1
            ranked = sorted(votes.items(), key=lambda kv: -kv[1])
            if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
                out.append(FinalLabel(eid, latest.text, latest.text_hash, [], "tie", answers))
            else:
                out.append(FinalLabel(eid, latest.text, latest.text_hash, list(ranked[0][0]), "majority",
                                      answers))
        return out

    def labels(self, session: Session) -> list[Annotation]:
        """The current labels (skips left out), in labelling order."""
        return [a for a in self.current(session) if a.action == "label"]

    def changed(self, session: Session, texts_by_id: dict[str, str]) -> list[str]:
        """Annotated example ids whose text in ``texts_by_id`` differs from the
        text that was annotated (ids missing from it are not reported)."""
        out = []
        for a in self.current(session):
            text = texts_by_id.get(a.example_id)
            if text is not None and text_hash(text) != a.text_hash:
                out.append(a.example_id)
        return out

    def counts(self, session: Session) -> dict[str, int]:
        cur = self.current(session)
        out = {"labelled": sum(a.action == "label" for a in cur), "skipped": sum(a.action == "skip" for a in cur),
               "rows": len(self.history(session))}
        for name in session.labels:
            out[name] = sum(a.action == "label" and name in a.labels for a in cur)
        return out

    # -- export
    def _check_export_path(self, session: Session, path: Path, overwrite: bool) -> None:
        # The database (and its WAL files) and the session's source corpus are what
        # an export is made from: writing over one of them would destroy labels.
        inputs = {"the label store": self.path, "its WAL file": Path(f"{self.path}-wal"),
                  "its shared-memory file": Path(f"{self.path}-shm"),
                  "the session's source corpus": Path(session.source) if session.source else None}
        check_distinct_paths(inputs=inputs, outputs={"the export": path})
        refuse_existing(path, overwrite, "export")
        if not path.parent.is_dir():
            raise ActiveLearningError(f"cannot write the export {path}: the folder {path.parent} "
                                      "does not exist; create it or choose another path")

    def export_jsonl(self, session: Session, path: PathLike, *, overwrite: bool = False) -> int:
        """The final labels as JSONL (``id``, ``text``, ``label``, ``labels``, ``meta``),
        written atomically; returns how many. Readable by ``tsunagu.corpora.read_jsonl``.

        The label is the reviewed one, else the majority of the annotators', else
        the single answer (:meth:`final_labels`); ``meta`` keeps how it was decided
        (``decided_by``), every annotator's answer (``answers``) and the
        ``reviewer``. Ties nobody reviewed are left out (:meth:`ties` counts them).
        An existing file is replaced only with ``overwrite``; the store's own files
        and the session's source corpus never are (``PathConflictError``)."""
        path = Path(path)
        self._check_export_path(session, path, overwrite)
        lines = [json.dumps({"id": f.example_id, "text": f.text, "label": f.label, "labels": f.labels,
                             "meta": _export_meta(f, session)}, ensure_ascii=False)
                 for f in self.final_labels(session) if f.labels]
        write_atomically(path, ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8"))
        return len(lines)

    def ties(self, session: Session) -> list[FinalLabel]:
        """Examples whose annotators split evenly and that nobody reviewed."""
        return [f for f in self.final_labels(session) if f.decided_by == "tie"]

    def export_docbin(self, session: Session, path: PathLike, nlp=None, *, overwrite: bool = False) -> int:
        """The final labels as a spaCy DocBin: ``doc.cats`` one-hot over the
        session's labels (1.0 for each given label), ``user_data`` id and meta (as
        in :meth:`export_jsonl`); tokenized by ``nlp`` (default:
        :func:`tsunagu.tokenizer.tokenizer_only_nlp`, Sudachi split mode C, texts of
        any length). Paths are checked as by :meth:`export_jsonl`."""
        from spacy.tokens import DocBin

        from ..tokenizer import tokenizer_only_nlp

        path = Path(path)
        self._check_export_path(session, path, overwrite)
        nlp = nlp or tokenizer_only_nlp()
        finals = [f for f in self.final_labels(session) if f.labels]
        db = DocBin(store_user_data=True)
        for f, doc in zip(finals, nlp.pipe([f.text for f in finals])):
            doc.cats = {l: float(l in f.labels) for l in session.labels}
            doc.user_data["id"] = f.example_id
            doc.user_data["meta"] = _export_meta(f, session)
            db.add(doc)
        write_atomically(path, db.to_bytes())
        return len(finals)


def _export_meta(f: FinalLabel, session: Session) -> dict[str, Any]:
    latest = max(f.answers, key=lambda a: a.id)
    meta: dict[str, Any] = {
        "annotator": latest.annotator, "time": f.review.created if f.review else latest.created,
        "text_sha256": f.text_hash, "session": session.name, "decided_by": f.decided_by,
        "answers": [{"annotator": a.annotator, "labels": a.labels, "time": a.created} for a in f.answers]}
    if f.review is not None:
        meta["reviewer"] = f.review.reviewer
    return meta


@dataclass
class ImportReport:
    """What :meth:`LabelStore.import_records` did with each input record."""

    imported: int = 0
    kept: int = 0            # already labelled in the session (kept: no overwrite, or same label)
    unlabelled: int = 0      # records without labels (nothing to import)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (location, note): ids met again
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (location, reason)

    @property
    def skipped(self) -> int:
        """Every record not imported."""
        return self.kept + self.unlabelled + len(self.duplicates) + len(self.rejected)

    def summary(self) -> str:
        parts = [f"{self.kept} already labelled (kept)"]
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} duplicate id(s) (the first occurrence counts)")
        if self.unlabelled:
            parts.append(f"{self.unlabelled} without labels")
        if self.rejected:
            parts.append(f"{len(self.rejected)} rejected")
        return f"imported {self.imported} labels; " + ", ".join(parts)


def _import_problem(r: Any, session: Session) -> Optional[str]:
    """Why record ``r`` cannot be imported, or None."""
    if unencodable(str(r.id)):
        return "the id is not valid Unicode text (a lone surrogate such as \\ud800)"
    if not isinstance(r.text, str):
        return f"the text is a {type(r.text).__name__}, not a string"
    if unencodable(r.text):
        return "the text is not valid Unicode text (a lone surrogate such as \\ud800)"
    if not r.text.strip():
        return "the text is empty"
    labels = list(r.labels or ())
    if unencodable(labels):
        return "a label is not valid Unicode text (a lone surrogate such as \\ud800)"
    unknown = [l for l in labels if l not in session.labels]
    if unknown:
        return f"labels {unknown} are not among the session's {session.labels}"
    return None


def _to_annotation(row) -> Annotation:
    return Annotation(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6], row[7], row[8])


def _check_labels(labels: Optional[Sequence[str]]) -> list[str]:
    if labels is None:
        raise ActiveLearningError("a new session needs its labels (e.g. --labels pos,neg)")
    labels = [l.strip() for l in labels if l.strip()]
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ActiveLearningError(f"a session needs at least two distinct labels, not {labels}")
    if len(labels) > 9:
        raise ActiveLearningError(f"{len(labels)} labels: the terminal session has keys 1-9 only")
    return labels
