"""Several annotators on one session, and a reviewer for their disagreements.

:class:`TeamSession` decides which example each annotator sees next; the web page
(:mod:`tsunagu.active.web`) is a thin layer over it. The rules:

* With ``overlap`` N, an example is labelled by N different annotators and then
  leaves the pool; an annotator never gets an example they answered (labelled or
  skipped). A skip is not a label: the example goes to somebody else.
* An example shown is *leased* to that annotator's tab until it is answered or
  the lease expires (``lease_seconds``): no more annotators get it at the same
  time than it still needs, and two tabs of one annotator get different
  examples. A reload of the same tab gets its leased example back.
* An answer is committed to the label store (one SQLite transaction, see
  :mod:`tsunagu.active.store`) before the next example is chosen, so a killed
  server loses nothing it acknowledged. An answer that arrives after its lease
  expired is still kept; a second answer of one annotator to one example is
  refused, not stored twice.
* ``u`` undoes the annotator's own latest answer (the store marks it undone,
  history kept) and shows that example again.
* Retraining is the terminal session's (:class:`~tsunagu.active.session.Retrainer`):
  every ``retrain_every`` new labels from anyone, a background thread fits a fresh
  model on the final labels (review, else majority, else the single answer) and
  ranks the open pool with the strategy; every annotator takes examples in that
  order, before the rest in a fixed random order.

:class:`ReviewSession` walks the examples whose annotators gave different labels;
a reviewer's decision is stored as the final label (``LabelStore.review``).

Both are safe to call from several threads (one lock around the state and the
store; open the store with ``LabelStore(path, threads=True)`` for that).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from .errors import ActiveLearningError, UnknownExample
from .session import Retrainer
from .store import Annotation, LabelStore, Session, text_hash
from .strategies import Pool, QueryStrategy
from .worker import ProcessRetrainer

# How long an example shown to an annotator is kept from others who would exceed
# the overlap; long enough to read an article, short enough that a closed tab's
# example returns to the pool soon.
DEFAULT_LEASE_SECONDS = 600.0


@dataclass
class _Lease:
    example_id: str
    since: float


def _check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ActiveLearningError(f"the {kind} needs a name (?{kind}=NAME in the page's address)")
    name = name.strip(" ")
    if len(name) > 64 or any(not ch.isprintable() for ch in name):
        raise ActiveLearningError(f"the {kind} name must be at most 64 printable characters")
    return name


class TeamSession:
    """The pool, the leases and the answers of every annotator of one session."""

    mode = "annotate"

    def __init__(self, store: LabelStore, session: Session, ids: Sequence[str], texts: Sequence[str], *,
                 strategy: QueryStrategy, model_factory: Optional[Callable[[], object]] = None,
                 overlap: int = 1, retrain_every: int = 10, batch: int = 50, max_chars: int = 5000,
                 seed: int = 0, lease_seconds: float = DEFAULT_LEASE_SECONDS, retrain_in: str = "process",
                 log: Callable[[str], None] = print, clock: Callable[[], float] = time.monotonic) -> None:
        if overlap < 1:
            raise ActiveLearningError(f"the overlap must be 1 or more, not {overlap}")
        if len(session.labels) > 9:
            raise ActiveLearningError("the web session has keys for 9 labels at most")
        self.store, self.session = store, session
        self.texts = dict(zip(map(str, ids), texts))
        self.overlap = overlap
        self.retrain_every = retrain_every
        self.max_chars = max_chars
        self.lease_seconds = lease_seconds
        self.log = log
        self.clock = clock
        self._lock = threading.RLock()
        if retrain_in not in ("process", "thread"):
            raise ActiveLearningError(f"retrain_in is 'process' or 'thread', not {retrain_in!r}")
        self.retrainer = None
        if model_factory is not None and retrain_every > 0:
            # A child process keeps training off the GIL that answers annotators (tsunagu.active.worker).
            kind = ProcessRetrainer if retrain_in == "process" else Retrainer
            self.retrainer = kind(model_factory, strategy, batch, log)

        self.changed = set(store.changed(session, self.texts))
        if self.changed:
            log(f"warning: {len(self.changed)} annotated examples have a different text in the source now; "
                "they are back in the pool and their old answers are not used.")
        # Only answers given to the text the source has now count.
        self.hashes = {eid: text_hash(text) for eid, text in self.texts.items()}
        # The answers and counters kept in step with them (the page shows the
        # counters after every answer, so they are never recounted).
        self.answers: dict[str, dict[str, Annotation]] = {}
        self.n_labels: dict[str, int] = {}
        self.by_annotator: dict[str, set[str]] = {}
        self.label_counts = {label: 0 for label in session.labels}
        self.complete = 0
        self.n_answers = 0
        for a in store.answers(session):
            if self.hashes.get(a.example_id) == a.text_hash:
                self._put(a)
        order = list(self.texts)
        random.Random(seed).shuffle(order)
        # Examples that still need labels, in the fixed random order.
        self.open: dict[str, None] = dict.fromkeys(e for e in order if self._labelled(e) < overlap)
        self.leases: dict[tuple[str, str], _Lease] = {}
        self.front: dict[str, list[str]] = {}   # per annotator: undone examples, shown again first
        self.queue: list[str] = []
        self._queue_from = None
        self.since_retrain = 0
        if self.retrainer is not None and self._training_data()[0]:
            self._retrain()

    # -- state
    def _labelled(self, eid: str) -> int:
        return self.n_labels.get(eid, 0)

    def _count(self, a: Annotation, sign: int) -> None:
        if a.action != "label":
            return
        before = self.n_labels.get(a.example_id, 0)
        self.n_labels[a.example_id] = before + sign
        self.n_answers += sign
        self.complete += (before + sign >= self.overlap) - (before >= self.overlap)
        for label in a.labels:
            self.label_counts[label] = self.label_counts.get(label, 0) + sign

    def _put(self, a: Annotation) -> None:
        answers = self.answers.setdefault(a.example_id, {})
        old = answers.get(a.annotator)
        if old is not None:
            self._count(old, -1)
        answers[a.annotator] = a
        self._count(a, +1)
        self.by_annotator.setdefault(a.annotator, set()).add(a.example_id)

    def _drop(self, eid: str, annotator: str) -> None:
        old = self.answers.get(eid, {}).pop(annotator, None)
        if old is not None:
            self._count(old, -1)
            self.by_annotator[annotator].discard(eid)

    def _refresh(self, eid: str) -> None:
        """Reread ``eid``'s answers from the store (after an undo)."""
        for name in list(self.answers.get(eid, {})):
            self._drop(eid, name)
        for a in self.store.answers(self.session, eid):
            if a.text_hash == self.hashes[eid]:
                self._put(a)
        if self._labelled(eid) < self.overlap:
            self.open.setdefault(eid, None)
        else:
            self.open.pop(eid, None)

    def _training_data(self) -> tuple[list[str], list[str]]:
        finals = [f for f in self.store.final_labels(self.session)
                  if f.label and self.hashes.get(f.example_id) == f.text_hash]
        return [f.text for f in finals], [f.label for f in finals]

    def _retrain(self) -> None:
        if self.retrainer is None:
            return
        texts, labels = self._training_data()
        if not texts:
            return
        ids = list(self.open)
        self.retrainer.request(texts, labels, Pool(ids, [self.texts[i] for i in ids]))
        self.since_retrain = 0

    def _expire(self, now: float) -> None:
        for key in [k for k, lease in self.leases.items() if now - lease.since > self.lease_seconds]:
            del self.leases[key]

    def _holders(self, eid: str, annotator: str) -> int:
        """Annotators other than ``annotator`` holding a lease on ``eid``."""
        return len({name for (name, _), lease in self.leases.items()
                    if lease.example_id == eid and name != annotator})

    def _eligible(self, eid: str, annotator: str, tab: str, *, own: bool = False) -> bool:
        if eid not in self.texts or annotator in self.answers.get(eid, {}):
            return False
        if any(name == annotator and t != tab and lease.example_id == eid
               for (name, t), lease in self.leases.items()):
            return False  # in this annotator's other tab
        # An annotator's own undone example comes back even if others filled it meanwhile.
        return own or self._labelled(eid) + self._holders(eid, annotator) < self.overlap

    def _candidates(self, annotator: str):
        front = self.front.get(annotator, [])
        while front:
            yield front.pop(), True
        if self.retrainer is not None:
            pub = self.retrainer.latest()
            if pub is not None and pub is not self._queue_from:
                self.queue, self._queue_from = list(pub.queue), pub
        for eid in self.queue:
            if eid in self.open:
                yield eid, False
        yield from ((eid, False) for eid in self.open)

    # -- what the page calls
    def next(self, annotator: str, tab: str = "") -> Optional[str]:
        """The example ``annotator``'s tab shows now (leased to it), or None when
        nothing is left for this annotator."""
        annotator = _check_name("annotator", annotator)
        with self._lock:
            now = self.clock()
            self._expire(now)
            key = (annotator, tab)
            lease = self.leases.get(key)
            if lease is not None and annotator not in self.answers.get(lease.example_id, {}):
                lease.since = now
                return lease.example_id
            self.leases.pop(key, None)
            for eid, own in self._candidates(annotator):
                if self._eligible(eid, annotator, tab, own=own):
                    self.leases[key] = _Lease(eid, now)
                    return eid
            return None

    def answer(self, annotator: str, tab: str, example_id: str, label: Optional[str]) -> str:
        """Store ``annotator``'s label for ``example_id`` (``label=None``: a skip).
        Returns ``"saved"``, or ``"already answered"`` when this annotator has an
        answer for it (nothing is written). Raises :class:`UnknownExample` for an
        id not in the source, ``ActiveLearningError`` for a label not in the
        session or a store that cannot be written (then nothing was saved)."""
        annotator = _check_name("annotator", annotator)
        example_id = str(example_id)
        if example_id not in self.texts:
            raise UnknownExample(f"no example {example_id!r} in this session's source")
        if label is not None and label not in self.session.labels:
            raise ActiveLearningError(f"{label!r} is not one of the session's labels {self.session.labels}")
        with self._lock:
            lease = self.leases.get((annotator, tab))
            if lease is not None and lease.example_id == example_id:
                del self.leases[(annotator, tab)]
            if annotator in self.answers.get(example_id, {}):
                return "already answered"
            text = self.texts[example_id]
            if label is None:
                row = self.store.skip(self.session, example_id, text, annotator)
            else:
                row = self.store.annotate(self.session, example_id, text, label, annotator)
            self._put(next(a for a in self.store.answers(self.session, example_id, annotator) if a.id == row))
            if self._labelled(example_id) >= self.overlap:
                self.open.pop(example_id, None)
            if label is not None:
                self.since_retrain += 1
                if self.retrain_every and self.since_retrain >= self.retrain_every:
                    self._retrain()
            return "saved"

    def undo(self, annotator: str, tab: str = "") -> Optional[Annotation]:
        """Undo ``annotator``'s latest answer; its example is what their tab shows
        next. None when there is nothing to undo."""
        annotator = _check_name("annotator", annotator)
        with self._lock:
            undone = self.store.undo(self.session, annotator)
            if undone is None:
                return None
            eid = undone.example_id
            if eid in self.texts:
                self._refresh(eid)
                self.leases.pop((annotator, tab), None)
                self.front.setdefault(annotator, []).append(eid)
            return undone

    # -- what the page shows
    def view(self, example_id: Optional[str], annotator: str) -> dict:
        with self._lock:
            mine = self.by_annotator.get(annotator, set())
            yours = len(mine)
            labelled = self.complete
            answers = self.n_answers
            counts = dict(self.label_counts)
            left_for_you = len(self.open) - sum(1 for e in mine if e in self.open)
        out = {"mode": self.mode, "session": self.session.name, "labels": list(self.session.labels),
               "annotator": annotator, "overlap": self.overlap,
               "progress": {"examples": len(self.texts), "complete": labelled, "answers": answers,
                            "yours": yours, "left_for_you": left_for_you, "counts": counts},
               "model": self._model_state(), "example": None}
        if example_id is not None:
            text = self.texts[example_id]
            out["example"] = {"id": example_id, "text": _clip(text, self.max_chars),
                              "chars": len(text), "prediction": self._prediction(example_id, text)}
        return out

    def _published(self):
        return self.retrainer.latest() if self.retrainer is not None else None

    def _model_state(self) -> dict:
        pub = self._published()
        return {"trained_on": pub.trained_on if pub else 0,
                "retraining": bool(self.retrainer and self.retrainer.busy),
                "error": self.retrainer.error if self.retrainer else None}

    def _prediction(self, example_id: str, text: str) -> Optional[dict]:
        pub = self._published()
        if pub is None:
            return None
        if hasattr(pub, "predict"):  # a child process's ranking: probabilities looked up
            proba, labels = pub.predict(example_id), pub.labels
            if proba is None:
                return None
        else:
            proba, labels = pub.model.predict_proba([text])[0], pub.model.labels
        best = int(proba.argmax())
        return {"label": labels[best], "confidence": float(proba[best]),
                "scores": {l: float(p) for l, p in zip(labels, proba)}}

    def close(self) -> None:
        if self.retrainer is not None:
            self.retrainer.close()


class ReviewSession:
    """The examples whose annotators disagree, one at a time, for a reviewer."""

    mode = "review"

    def __init__(self, store: LabelStore, session: Session, *, max_chars: int = 5000,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS, clock: Callable[[], float] = time.monotonic,
                 log: Callable[[str], None] = print) -> None:
        self.store, self.session = store, session
        self.max_chars = max_chars
        self.lease_seconds = lease_seconds
        self.clock = clock
        self._lock = threading.RLock()
        self.leases: dict[tuple[str, str], _Lease] = {}
        self.skipped: dict[str, set[str]] = {}
        self.front: dict[str, list[str]] = {}
        self._load()

    def _load(self) -> None:
        answers: dict[str, dict[str, Annotation]] = {}
        for a in self.store.answers(self.session):
            if a.action == "label":
                answers.setdefault(a.example_id, {})[a.annotator] = a
        self.answers = {eid: ans for eid, ans in answers.items()
                        if len({tuple(a.labels) for a in ans.values()}) > 1}
        self.reviews = self.store.reviews(self.session)

    def _open(self, eid: str) -> bool:
        review = self.reviews.get(eid)
        latest = max(self.answers[eid].values(), key=lambda a: a.id)
        return review is None or review.text_hash != latest.text_hash

    def next(self, reviewer: str, tab: str = "") -> Optional[str]:
        reviewer = _check_name("reviewer", reviewer)
        with self._lock:
            now = self.clock()
            for key in [k for k, l in self.leases.items() if now - l.since > self.lease_seconds]:
                del self.leases[key]
            key = (reviewer, tab)
            lease = self.leases.get(key)
            if lease is not None and self._open(lease.example_id):
                lease.since = now
                return lease.example_id
            self.leases.pop(key, None)
            taken = {l.example_id for k, l in self.leases.items() if k != key}
            front = self.front.get(reviewer, [])
            candidates = [front.pop()] if front else []
            candidates += [e for e in self.answers if e not in self.skipped.get(reviewer, set())]
            for eid in candidates:
                if eid in self.answers and self._open(eid) and eid not in taken:
                    self.leases[key] = _Lease(eid, now)
                    return eid
            return None

    def answer(self, reviewer: str, tab: str, example_id: str, label: Optional[str]) -> str:
        """The reviewer's final label (``label=None``: skip it for now; nothing is stored)."""
        reviewer = _check_name("reviewer", reviewer)
        with self._lock:
            if example_id not in self.answers:
                raise UnknownExample(f"example {example_id!r} is not a disagreement of this session")
            if label is not None and label not in self.session.labels:
                raise ActiveLearningError(f"{label!r} is not one of the session's labels {self.session.labels}")
            self.leases.pop((reviewer, tab), None)
            if label is None:
                self.skipped.setdefault(reviewer, set()).add(example_id)
                return "skipped"
            latest = max(self.answers[example_id].values(), key=lambda a: a.id)
            self.store.review(self.session, example_id, latest.text, label, reviewer)
            self.reviews = self.store.reviews(self.session)
            return "saved"

    def undo(self, reviewer: str, tab: str = ""):
        reviewer = _check_name("reviewer", reviewer)
        with self._lock:
            undone = self.store.undo_review(self.session, reviewer)
            if undone is None:
                return None
            self.reviews = self.store.reviews(self.session)
            self.leases.pop((reviewer, tab), None)
            self.front.setdefault(reviewer, []).append(undone.example_id)
            return undone

    def view(self, example_id: Optional[str], reviewer: str) -> dict:
        with self._lock:
            total = len(self.answers)
            reviewed = sum(not self._open(e) for e in self.answers)
        out = {"mode": self.mode, "session": self.session.name, "labels": list(self.session.labels),
               "annotator": reviewer, "progress": {"disagreements": total, "reviewed": reviewed},
               "model": None, "example": None}
        if example_id is not None:
            answers = self.answers[example_id]
            latest = max(answers.values(), key=lambda a: a.id)
            out["example"] = {"id": example_id, "text": _clip(latest.text, self.max_chars),
                              "chars": len(latest.text), "prediction": None,
                              "answers": {name: "+".join(a.labels) for name, a in sorted(answers.items())}}
        return out

    def close(self) -> None:
        pass


def _clip(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[:max_chars] + "…"
