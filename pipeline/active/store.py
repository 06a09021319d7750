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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

from ..atomic import write_atomically
from .errors import ActiveLearningError

SCHEMA_VERSION = 1
PathLike = Union[str, Path]

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
"""


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Session:
    id: int
    name: str
    labels: list[str]
    source: Optional[str]
    settings: dict[str, Any]
    created: float


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
    """A label database file. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            raise ActiveLearningError(f"folder {self.path.parent} does not exist")
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            with self._transaction():
                for stmt in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                    self.conn.execute(stmt)
                self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                                  (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as e:
            raise ActiveLearningError(f"{self.path} is not a usable label database: {e}") from e
        version = int(self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])
        if version != SCHEMA_VERSION:
            raise ActiveLearningError(f"{self.path} has label-store schema {version}; this tsunagu "
                                      f"reads schema {SCHEMA_VERSION}")

    # -- plumbing
    def _transaction(self):
        store = self

        class _Tx:
            def __enter__(self_):
                store.conn.execute("BEGIN IMMEDIATE")

            def __exit__(self_, exc_type, exc, tb):
                if exc_type is None:
                    store.conn.execute("COMMIT")
                else:
                    store.conn.execute("ROLLBACK")
                return False

        return _Tx()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "LabelStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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

    def import_records(self, session: Session, records: Iterable[Any], annotator: str = "import",
                       overwrite: bool = False) -> tuple[int, int]:
        """Existing labels (records with ``id``, ``text``, ``labels``) into the session,
        in one transaction. Examples already labelled keep their label unless
        ``overwrite``. Returns (imported, skipped)."""
        current = {a.example_id: a for a in self.current(session)}
        imported = skipped = 0
        now = time.time()
        rows = []
        for r in records:
            if not hasattr(r, "labels"):
                continue
            if not r.labels or not isinstance(r.text, str):
                skipped += 1
                continue
            unknown = [l for l in r.labels if l not in session.labels]
            if unknown:
                raise ActiveLearningError(f"record {r.id}: labels {unknown} are not among the "
                                          f"session's {session.labels}")
            old = current.get(str(r.id))
            if old is not None and old.action == "label" and (not overwrite or old.labels == list(r.labels)):
                skipped += 1
                continue
            rows.append((session.id, str(r.id), text_hash(r.text), r.text, "label",
                         json.dumps(list(r.labels), ensure_ascii=False), annotator, now))
            imported += 1
        with self._transaction():
            self.conn.executemany(
                "INSERT INTO annotations (session_id, example_id, text_hash, text, action, labels, "
                "annotator, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return imported, skipped

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
    def export_jsonl(self, session: Session, path: PathLike) -> int:
        """The current labels as JSONL (``id``, ``text``, ``label``, ``labels``, ``meta``),
        written atomically. Readable by ``tsunagu.corpora.read_jsonl``."""
        lines = []
        for a in self.labels(session):
            lines.append(json.dumps({
                "id": a.example_id, "text": a.text, "label": a.label, "labels": a.labels,
                "meta": {"annotator": a.annotator, "time": a.created, "text_sha256": a.text_hash,
                         "session": session.name}}, ensure_ascii=False))
        write_atomically(Path(path), ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8"))
        return len(lines)

    def export_docbin(self, session: Session, path: PathLike, nlp=None) -> int:
        """The current labels as a spaCy DocBin: ``doc.cats`` one-hot over the
        session's labels (1.0 for each given label), ``user_data`` id and meta;
        tokenized by ``nlp`` (default: SudachiPy through ``spacy.blank("ja")``)."""
        import spacy
        from spacy.tokens import DocBin

        nlp = nlp or spacy.blank("ja")
        anns = self.labels(session)
        db = DocBin(store_user_data=True)
        for a, doc in zip(anns, nlp.pipe([a.text for a in anns])):
            doc.cats = {l: float(l in a.labels) for l in session.labels}
            doc.user_data["id"] = a.example_id
            doc.user_data["meta"] = {"annotator": a.annotator, "time": a.created,
                                     "session": session.name}
            db.add(doc)
        write_atomically(Path(path), db.to_bytes())
        return len(anns)


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
