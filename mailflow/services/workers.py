"""Batches of pure work, done ahead of time in a worker process when a pass is long.

Composing emails and parsing replies are most of the CPU a long pass spends,
and neither needs the store: a worker process can do them on a second core
while this process talks to the servers and records results. `Batches` runs
one such function over batches submitted in order. The first batch is done
here (when awaited) while the worker starts; every later one goes to the
worker at once. A short pass, a single core or a worker that dies does
everything here: the results are the same either way, only the time differs.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

log = logging.getLogger("mailflow.workers")

MIN_FOR_WORKER = 1000  # items in a pass before a worker process is worth starting

T = TypeVar("T")
R = TypeVar("R")


def worker_count() -> int:
    """One worker when this process may use a second core, else none."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return 1 if cores > 1 else 0


class Batches(Generic[T, R]):
    """``here(batch)`` and ``in_worker(batch)`` give the same results; ``in_worker`` (with
    its arguments) must be picklable, and runs after ``initializer(*initargs)``.

    `expect` the number of items as soon as it is known: enough of them start a
    worker. Close (``with``) to end the worker.
    """

    def __init__(self, what: str, here: Callable[[list[T]], list[R]],
                 in_worker: Callable[[list[T]], list[R]], *,
                 initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = (),
                 workers: int | None = None, min_for_worker: int | None = None) -> None:
        self.what = what
        self.here = here
        self.in_worker = in_worker
        self.initializer = initializer
        self.initargs = initargs
        self.workers = worker_count() if workers is None else workers
        self.min_for_worker = MIN_FOR_WORKER if min_for_worker is None else min_for_worker
        self._pool: ProcessPoolExecutor | None = None
        self._submitted = 0

    def __enter__(self) -> Batches[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def expect(self, count: int) -> None:
        """About ``count`` items will be submitted: start a worker if that pays."""
        if self._pool is None and self.workers and count >= self.min_for_worker:
            log.info("%s ahead in %s worker process(es)", self.what, self.workers)
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker, initargs=(self.initializer, self.initargs),
            )

    def submit(self, batch: list[T]) -> Pending[T, R]:
        """Start on ``batch``; await the results with ``Pending.result()``."""
        first, self._submitted = self._submitted == 0, self._submitted + 1
        if self._pool is None or first:
            return Pending(self, batch, None)
        try:
            future = self._pool.submit(self.in_worker, batch)
        except (BrokenProcessPool, RuntimeError):
            self._worker_gone("it could not take work")
            return Pending(self, batch, None)
        return Pending(self, batch, future)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _worker_gone(self, why: str) -> None:
        if self._pool is not None:
            log.warning("%s worker stopped (%s); going on in this process", self.what, why)
        self.close()


class Pending(Generic[T, R]):
    """A batch being worked on by the worker or (when awaited) here."""

    def __init__(self, owner: Batches[T, R], batch: list[T], future: Future[list[R]] | None):
        self.owner = owner
        self.batch = batch
        self.future = future

    async def result(self) -> list[R]:
        if self.future is not None:
            try:
                return await asyncio.wrap_future(self.future)
            except BrokenProcessPool as exc:
                self.owner._worker_gone(str(exc))
        return self.owner.here(self.batch)


# --- in the worker process -----------------------------------------------------------


def _start_worker(initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    parent = multiprocessing.parent_process()
    if parent is not None:  # a killed main process must not leave its worker behind
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def _exit_with(parent_sentinel: int) -> None:
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(0)
