"""Batches of pure work, done ahead of time in a worker process when a pass is long.

Composing emails and parsing replies are most of the CPU a long pass spends,
and neither needs the store: a worker process can do them on a second core
while this process talks to the servers and records results. `Batches` runs
one such function over batches submitted in order, in the `WorkerPool` of the
pass, when `worker_pays` says the pass is long enough. The first batch is done
here (when awaited) while the worker starts; every later one goes to the worker
at once. A short pass, a single core or a worker that dies does everything
here: the results are the same either way, only the time differs.
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
from typing import Generic, TypeVar

log = logging.getLogger("mailflow.workers")

# Items of pure work in a pass (emails to compose, replies to parse) before a worker
# process pays for its start (about 0.4 s of CPU, and a second core that is free):
# measured in bench/RESULTS.md ("The worker process"). A program of 100-500 pairs
# never reaches it: its passes are done in one process.
MIN_FOR_WORKER = 2000

T = TypeVar("T")
R = TypeVar("R")


def worker_pays(items: int, minimum: int | None = None) -> bool:
    """The one rule for both passes: is a pass of ``items`` pieces of pure work long
    enough to be worth a worker process? (A send pass counts its emails; a poll its
    replies twice: each is parsed, and most call for an ack to compose.)"""
    return items >= (MIN_FOR_WORKER if minimum is None else minimum)


def worker_count() -> int:
    """One worker when this process may use a second core, else none."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return 1 if cores > 1 else 0


class WorkerPool:
    """The worker process of a pass, started on first need; `Batches` can share one
    (a poll parses replies and composes acks in the same worker)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = worker_count() if workers is None else workers
        self._executor: ProcessPoolExecutor | None = None
        self._broken = False

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def usable(self) -> bool:
        return self.workers > 0 and not self._broken

    def executor(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
            )
        return self._executor

    def broken(self, what: str, why: str) -> None:
        """The worker died: everything from now on is done in this process. (`close`
        ends the pool; until then batches already given to it fail on their own.)"""
        if not self._broken:
            log.warning("%s worker stopped (%s); going on in this process", what, why)
        self._broken = True

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


class Batches(Generic[T, R]):
    """``here(batch)`` and ``in_worker(batch)`` give the same results; ``in_worker`` (with
    its arguments) must be picklable: it runs in the worker process.

    `expect` the number of items as soon as it is known: enough of them put the
    worker to use. The first batch is done here, while the worker starts (or, when
    shared, works on another kind of batch). Closing (``with``) ends the worker,
    unless it is a shared ``pool``, which its owner closes.
    """

    def __init__(self, what: str, here: Callable[[list[T]], list[R]],
                 in_worker: Callable[[list[T]], list[R]], *, pool: WorkerPool | None = None,
                 workers: int | None = None, min_for_worker: int | None = None) -> None:
        self.what = what
        self.here = here
        self.in_worker = in_worker
        self._owns_pool = pool is None
        self.pool = WorkerPool(workers) if pool is None else pool
        self.min_for_worker = min_for_worker  # None: MIN_FOR_WORKER, as read when needed
        self._active = False
        self._submitted = 0

    def __enter__(self) -> Batches[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def expect(self, count: int) -> None:
        """About ``count`` items will be submitted: use the worker if that pays."""
        if not self._active and self.pool.usable and worker_pays(count, self.min_for_worker):
            log.info("%s ahead in a worker process", self.what)
            self._active = True
            self.pool.executor()  # its process starts with the first batch submitted

    def submit(self, batch: list[T], *, here: bool = False) -> Pending[T, R]:
        """Start on ``batch``; await the results with ``Pending.result()``. ``here``: do
        it in this process when awaited (to share the work when all is awaited at once)."""
        first, self._submitted = self._submitted == 0, self._submitted + 1
        if first or here or not (self._active and self.pool.usable):
            return Pending(self, batch, None)
        try:
            future = self.pool.executor().submit(self.in_worker, batch)
        except (BrokenProcessPool, RuntimeError) as exc:
            self._worker_gone(f"it could not take work: {exc}")
            return Pending(self, batch, None)
        return Pending(self, batch, future)

    def close(self) -> None:
        if self._owns_pool:
            self.pool.close()

    def _worker_gone(self, why: str) -> None:
        self.pool.broken(self.what, why)


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
            except asyncio.CancelledError:
                if not self.future.cancelled():
                    raise  # this task was cancelled, not the batch
                self.owner._worker_gone("the batch was cancelled")
        return self.owner.here(self.batch)


# --- in the worker process -----------------------------------------------------------


def _start_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    parent = multiprocessing.parent_process()
    if parent is not None:  # a killed main process must not leave its worker behind
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(parent_sentinel: int) -> None:
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(0)
