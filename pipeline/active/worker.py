"""Retraining in a child process, for the web server.

The terminal session retrains in a thread (:class:`~tsunagu.active.session.Retrainer`):
one annotator waits on a key press, so the GIL held by training costs nothing.
A server answering ten annotators cannot share the GIL with training: measured
with 10 simulated annotators and retraining every 10 labels, a thread pushed the
answer latency's p95 from ~10 ms to 200-400 ms. :class:`ProcessRetrainer` runs
the same work (fit a fresh model on the labels, rank the pool with the strategy)
in a forked child, at low CPU priority, and sends back the ranking and the
model's probabilities for every pool example, so the server shows predictions
by looking them up instead of running the model.

The child is forked when the retrainer is made, so it has the parent's tokenized
documents (``DocCache``) and model factory without pickling them. Requests made
while one runs collapse into the latest, as in the thread version.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .strategies import Pool, QueryStrategy


@dataclass
class PublishedRanking:
    queue: list[str]
    trained_on: int
    seconds: float
    labels: list[str]
    scores: dict[str, int]       # example id -> row of proba
    proba: np.ndarray

    def predict(self, example_id: str) -> Optional[np.ndarray]:
        row = self.scores.get(example_id)
        return None if row is None else self.proba[row]


def _child(conn, model_factory, strategy, batch) -> None:
    try:
        os.nice(10)
    except OSError:
        pass
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        texts, labels, ids, pool_texts = request
        try:
            t0 = time.perf_counter()
            model = model_factory().fit(texts, labels)
            pool = Pool(ids, pool_texts)
            queue = strategy.select(pool, model, batch) if len(pool) else []
            proba = np.asarray(model.predict_proba(pool_texts), dtype="float32") if ids else \
                np.zeros((0, len(model.labels)), dtype="float32")
            conn.send(("ok", queue, len(texts), time.perf_counter() - t0, list(model.labels), ids, proba))
        except Exception as e:  # the server keeps the previous ranking
            conn.send(("error", "".join(traceback.format_exception_only(e)).strip()))


class ProcessRetrainer:
    """:class:`~tsunagu.active.session.Retrainer`'s interface, training in a child process."""

    def __init__(self, model_factory: Callable[[], object], strategy: QueryStrategy, batch: int,
                 log: Callable[[str], None]) -> None:
        self.log = log
        ctx = multiprocessing.get_context("fork")
        self._conn, child_conn = ctx.Pipe()
        self._process = ctx.Process(target=_child, args=(child_conn, model_factory, strategy, batch),
                                    name="tsunagu-retrain", daemon=True)
        self._process.start()
        child_conn.close()
        self._lock = threading.Lock()
        self._pending: Optional[tuple] = None
        self._running = False
        self._published: Optional[PublishedRanking] = None
        self._closed = False
        self.rounds = 0
        self.error: Optional[str] = None
        self._reader = threading.Thread(target=self._read, name="tsunagu-retrain-reader", daemon=True)
        self._reader.start()

    def request(self, texts: list[str], labels: list[str], pool: Pool) -> None:
        job = (list(texts), list(labels), list(pool.ids), list(pool.texts))
        with self._lock:
            if self._closed:
                return
            if self._running:
                self._pending = job
                return
            self._running = True
        self._conn.send(job)

    def _read(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                with self._lock:
                    if not self._closed:
                        self.error = "the retraining process ended"
                    self._running = False
                return
            if message[0] == "ok":
                _, queue, trained_on, seconds, labels, ids, proba = message
                published = PublishedRanking(queue, trained_on, seconds, labels,
                                             {eid: i for i, eid in enumerate(ids)}, proba)
                with self._lock:
                    self._published = published
                    self.rounds += 1
            else:
                self.error = message[1]
                self.log("retraining failed: " + message[1])
            with self._lock:
                job, self._pending = self._pending, None
                self._running = job is not None and not self._closed
            if job is not None and not self._closed:
                self._conn.send(job)

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._running or self._pending is not None

    def latest(self) -> Optional[PublishedRanking]:
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
            if self._closed:
                return
            self._closed = True
            self._pending = None
        try:
            self._conn.send(None)
        except (OSError, ValueError):
            pass
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        self._conn.close()
