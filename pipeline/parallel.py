"""Order-preserving parallel map over forked worker processes, with bounded look-ahead."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections import deque
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(
    func: Callable[[T], R],
    items: Iterable[T],
    n_process: int,
    initializer: Optional[Callable[[], None]] = None,
) -> Iterator[tuple[T, R]]:
    """Yield ``(item, func(item))`` in input order.

    With ``n_process == 1`` everything runs in this process. Otherwise forked
    workers (which inherit loaded models without pickling them) process items while
    at most ``2 * n_process`` are in flight, so memory stays flat on inputs of any
    size (``Pool.imap`` would read the whole input ahead). Workers ignore Ctrl-C
    (the parent handles it) and use one compute thread each.
    """
    if n_process == 1:
        for item in items:
            yield item, func(item)
        return
    ctx = multiprocessing.get_context("fork")
    pool = ctx.Pool(n_process, initializer=_init_worker, initargs=(initializer,))
    try:
        in_flight: deque = deque()
        for item in items:
            in_flight.append((item, pool.apply_async(func, (item,))))
            while len(in_flight) > 2 * n_process:
                done, result = in_flight.popleft()
                yield done, result.get()
        while in_flight:
            done, result = in_flight.popleft()
            yield done, result.get()
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def _init_worker(initializer: Optional[Callable[[], None]]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads_for_worker()
    if initializer is not None:
        initializer()


def limit_threads_for_worker() -> None:
    """One compute thread per worker process: torch's OpenMP pool, inherited
    through fork, deadlocks when a child tries to use several threads."""
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


@contextmanager
def torch_threads(n: Optional[int]) -> Iterator[None]:
    """Run the block with ``n`` torch compute threads (None: one per CPU), then
    restore the caller's setting."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n or os.cpu_count() or 1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
