"""What corpus readers yield."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Union


@dataclass(frozen=True)
class Record:
    """One document of a corpus.

    id: stable across runs over the same files (e.g. ``news.jsonl:17``,
        ``sports-watch/sports-watch-4597641``), so that a resumed job can tell
        which documents it has done.
    text: the document text. Readers pass it on as found; validation (empty,
        not a string, too long) belongs to the consumer, which knows its limits.
    labels: category labels, in order (one for single-label data).
    meta: anything else the source carries (URL, date, title, sentiment...).
    location: where the record is in its source (``news.jsonl:17``), for messages
        about it when its id is not that; ``None`` where the reader knows none.
        Not part of equality: the same record read from elsewhere is the same record.
    """

    id: str
    text: Any
    labels: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    location: Optional[str] = field(default=None, compare=False)

    @property
    def label(self) -> Union[str, None]:
        return self.labels[0] if self.labels else None


@dataclass(frozen=True)
class RejectedRecord:
    """A record that could not be read (bad JSON, bytes that are not UTF-8...).

    id: unique among what its reader yields (a record whose own id is unusable or
        taken gets its location, ``news.jsonl:17``, as id), so that the reject
        itself is never taken for a duplicate.
    reason: why, naming the location when the id does not.
    location: where the record is in its source, as in ``Record``.
    """

    id: str
    reason: str
    location: Optional[str] = field(default=None, compare=False)


def lone_surrogate(text: str) -> Optional[int]:
    """Where ``text`` holds its first lone surrogate (``"\\ud800"``: valid JSON, but
    not Unicode text, so neither UTF-8 nor a tokenizer can take it), or ``None``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return e.start
    return None
