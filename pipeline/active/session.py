"""The terminal annotation session behind ``tsunagu annotate``.

One example at a time: its text (truncated), the current model's prediction and
confidence, and a key per label (1-9), ``s`` skip, ``u`` undo, ``q`` quit. On a
terminal a single key press acts (no Enter); from a pipe, one line per answer.

Every answer is committed to the label store before the next example shows, so
quitting, Ctrl-C, a closed terminal or ``kill -9`` lose nothing. Running the same
command again resumes: examples already labelled or skipped leave the pool, and
the model is retrained on the stored labels at start.

Retraining runs in a background thread every ``retrain_every`` new labels: it fits
a fresh model on a snapshot of the labels and ranks the unlabelled pool with the
strategy; the annotator keeps labelling from the previous ranking (or random
order before the first model) and the new queue takes over when ready. Only one
retraining runs at a time; requests made meanwhile collapse into one.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, TextIO

from .errors import ActiveLearningError
from .store import Annotation, LabelStore, Session
from .strategies import Pool, QueryStrategy, RandomSampling

KEYS = "123456789"


@dataclass
class _Published:
    model: object
    queue: list[str]
    trained_on: int
    seconds: float


class Retrainer:
    """Fits models and ranks the pool in a background thread."""

    def __init__(self, model_factory: Callable[[], object], strategy: QueryStrategy, batch: int,
                 log: Callable[[str], None]) -> None:
        self.model_factory = model_factory
        self.strategy = strategy
        self.batch = batch
        self.log = log
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: Optional[tuple] = None
        self._published: Optional[_Published] = None
        self._busy = False
        self._closed = False
        self.rounds = 0
        self.error: Optional[str] = None
        self._thread = threading.Thread(target=self._loop, name="tsunagu-retrain", daemon=True)
        self._thread.start()

    def request(self, texts: list[str], labels: list[str], pool: Pool) -> None:
        with self._lock:
            self._pending = (list(texts), list(labels), pool)
            self._wake.notify()

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._busy or self._pending is not None

    def latest(self) -> Optional[_Published]:
        with self._lock:
            return self._published

    def wait_idle(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.busy:
                return True
            time.sleep(0.02)
        return not self.busy

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify()

    def _loop(self) -> None:
        while True:
            with self._lock:
                while self._pending is None and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                texts, labels, pool = self._pending
                self._pending = None
                self._busy = True
            try:
                t0 = time.perf_counter()
                model = self.model_factory().fit(texts, labels)
                queue = self.strategy.select(pool, model, self.batch) if len(pool) else []
                published = _Published(model, queue, len(texts), time.perf_counter() - t0)
                with self._lock:
                    self._published = published
                    self.rounds += 1
            except Exception as e:  # keep the annotator going on the previous model
                self.error = f"{type(e).__name__}: {e}"
                self.log("retraining failed: " + "".join(traceback.format_exception_only(e)).strip())
            finally:
                with self._lock:
                    self._busy = False


class AnnotationSession:
    """The loop; ``run()`` returns when the annotator quits or the pool is done."""

    def __init__(self, store: LabelStore, session: Session, ids: Sequence[str], texts: Sequence[str], *,
                 model_factory: Callable[[], object], strategy: QueryStrategy, annotator: str = "anonymous",
                 retrain_every: int = 10, batch: int = 20, max_chars: int = 400, seed: int = 0,
                 input: TextIO = None, output: TextIO = None) -> None:
        if len(session.labels) > len(KEYS):
            raise ActiveLearningError("the terminal session has keys for 9 labels at most")
        self.store, self.session = store, session
        self.texts = dict(zip(map(str, ids), texts))
        self.order = list(self.texts)
        self.annotator = annotator
        self.retrain_every = retrain_every
        self.batch = batch
        self.max_chars = max_chars
        self.input = input or sys.stdin
        self.output = output or sys.stdout
        self.random = RandomSampling(seed)
        self.queue: list[str] = []
        self.queue_from: Optional[_Published] = None
        self.front: list[str] = []  # undone examples, shown again first
        self.since_retrain = 0
        self.labelled_now = 0
        self.retrainer = Retrainer(model_factory, strategy, batch, self.say) if retrain_every > 0 else None

        changed = set(store.changed(session, self.texts))
        if changed:
            self.say(f"warning: {len(changed)} annotated examples have a different text in the source "
                     "now; they are back in the pool and their old labels are not used.")
        self.changed = changed
        self.done: set[str] = {a.example_id for a in store.current(session)} - changed
        self.train: dict[str, tuple[str, str]] = {
            a.example_id: (a.text, a.label) for a in store.labels(session) if a.example_id not in changed}

    # -- output
    def say(self, text: str = "") -> None:
        self.output.write(text + "\n")
        self.output.flush()

    # -- the pool
    def _pool(self) -> Pool:
        ids = [i for i in self.order if i not in self.done]
        return Pool(ids, [self.texts[i] for i in ids])

    def _retrain(self) -> None:
        if self.retrainer is None or not self.train:
            return
        texts = [t for t, _ in self.train.values()]
        labels = [l for _, l in self.train.values()]
        self.retrainer.request(texts, labels, self._pool())
        self.since_retrain = 0

    def _next(self) -> Optional[str]:
        while self.front:
            eid = self.front.pop()
            if eid not in self.done and eid in self.texts:
                return eid
        if self.retrainer is not None:
            pub = self.retrainer.latest()
            if pub is not None and pub is not self.queue_from:
                self.queue, self.queue_from = list(pub.queue), pub
        while self.queue:
            eid = self.queue.pop(0)
            if eid not in self.done:
                return eid
        pool = self._pool()
        if not len(pool):
            return None
        self.queue = self.random.select(pool, None, min(len(pool), max(self.batch, 1)))
        return self.queue.pop(0)

    def _model(self):
        pub = self.retrainer.latest() if self.retrainer is not None else None
        return pub

    # -- one screen
    def _show(self, eid: str) -> None:
        text = " ".join(self.texts[eid].split())
        if len(text) > self.max_chars:
            text = text[: self.max_chars] + "…"
        counts = f"{len(self.train)} labelled · {len(self.done) - len(self.train)} skipped · " \
                 f"{len(self.order) - len(self.done)} to go"
        pub = self._model()
        if pub is None:
            state = "no model yet" + (" (training…)" if self.retrainer and self.retrainer.busy else "")
            prediction = "prediction: -"
        else:
            proba = pub.model.predict_proba([self.texts[eid]])[0]
            best = int(proba.argmax())
            state = f"model trained on {pub.trained_on} labels" + \
                (" (retraining…)" if self.retrainer.busy else "")
            prediction = f"prediction: {pub.model.labels[best]} ({proba[best]:.2f})"
        self.say("")
        self.say(f"── {self.session.name} · {counts} · {state} ──")
        self.say(f"id: {eid}")
        self.say(text)
        self.say(prediction)
        self.say("  ".join(f"[{KEYS[i]}] {l}" for i, l in enumerate(self.session.labels))
                 + "  [s] skip  [u] undo  [q] quit")

    def _read_key(self, raw: bool) -> str:
        self.output.write("> ")
        self.output.flush()
        if raw:
            ch = os.read(self.input.fileno(), 1).decode("utf-8", "replace")
            if ch in ("", "\x04"):
                return "q"
            if ch in "\r\n":
                return ""
            self.output.write(ch + "\n")
            self.output.flush()
            return ch
        line = self.input.readline()
        if line == "":
            return "q"
        return line.strip()[:1]

    # -- the loop
    def run(self) -> dict[str, int]:
        raw = _isatty(self.input)
        saved = _enter_cbreak(self.input) if raw else None
        try:
            if self.train:
                self.say(f"resuming: {len(self.train)} labels, {len(self.done) - len(self.train)} skips "
                         "in the store; retraining on them in the background.")
                self._retrain()
            eid = self._next()
            while eid is not None:
                self._show(eid)
                key = self._read_key(raw).lower()
                if key == "q":
                    break
                if key == "u":
                    try:
                        undone = self.store.undo(self.session, self.annotator)
                    except ActiveLearningError as e:  # the store is locked, the disk full...
                        self.say(f"not undone: {e}")
                        continue
                    if undone is None:
                        self.say("nothing to undo")
                        continue
                    self._forget(undone)
                    what = f"label {undone.label}" if undone.action == "label" else "skip"
                    self.say(f"undone: {what} of {undone.example_id}")
                    self.front.append(eid)
                    eid = undone.example_id if undone.example_id in self.texts else self._next()
                    continue
                if key == "s":
                    try:
                        self.store.skip(self.session, eid, self.texts[eid], self.annotator)
                    except ActiveLearningError as e:
                        self.say(f"not saved: {e}; the same example again")
                        continue
                    self.done.add(eid)
                    self.say(f"skipped {eid}")
                elif key and key in KEYS[: len(self.session.labels)]:
                    label = self.session.labels[KEYS.index(key)]
                    try:
                        self.store.annotate(self.session, eid, self.texts[eid], label, self.annotator)
                    except ActiveLearningError as e:
                        # Nothing was written (one transaction, rolled back); the
                        # annotator can wait for the lock to go and answer again.
                        self.say(f"not saved: {e}; the same example again")
                        continue
                    self.done.add(eid)
                    self.train[eid] = (self.texts[eid], label)
                    self.labelled_now += 1
                    self.since_retrain += 1
                    self.say(f"saved: {eid} = {label}")
                    if self.retrain_every and self.since_retrain >= self.retrain_every:
                        self._retrain()
                else:
                    self.say(f"keys: 1-{len(self.session.labels)} label, s skip, u undo, q quit")
                    continue
                eid = self._next()
            else:
                self.say("the pool is done: every example is labelled or skipped.")
        finally:
            if saved is not None:
                _leave_cbreak(self.input, saved)
            if self.retrainer is not None:
                self.retrainer.close()
        counts = self.store.counts(self.session)
        self.say(f"saved {counts['labelled']} labels and {counts['skipped']} skips in {self.store.path} "
                 f"(session {self.session.name}); run the same command to continue.")
        return counts

    def _forget(self, undone: Annotation) -> None:
        """Bring the in-memory state back to the store's after an undo."""
        eid = undone.example_id
        current = {a.example_id: a for a in self.store.current(self.session)}
        now = current.get(eid)
        if now is None or eid in self.changed:
            self.done.discard(eid)
            self.train.pop(eid, None)
        elif now.action == "label":
            self.done.add(eid)
            self.train[eid] = (now.text, now.label)
        else:
            self.done.add(eid)
            self.train.pop(eid, None)


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _enter_cbreak(stream):
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    return saved


def _leave_cbreak(stream, saved) -> None:
    import termios

    termios.tcsetattr(stream.fileno(), termios.TCSADRAIN, saved)
