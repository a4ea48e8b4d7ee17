"""The batch side of the SMTP adapter: a token bucket and the send_many workers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from typing import Generic, Protocol, TypeVar

from mailflow.config import SmtpSettings
from mailflow.errors import ConnectionFailed, DeliveryError
from mailflow.render.mime import OutgoingMessage

K = TypeVar("K")
Message = OutgoingMessage  # what mailflow composes (render/mime.py)
Item = tuple[K, Message, Sequence[str]]


class Session(Protocol):
    """One connection of the pool."""

    async def ensure_open(self) -> None: ...


S = TypeVar("S", bound=Session)


class Pool(Protocol[S]):
    """What a batch needs of the sender (``adapters.smtp.SmtpSender``)."""

    settings: SmtpSettings
    slots: asyncio.Semaphore
    bucket: TokenBucket

    def checkout(self) -> S: ...

    def checkin(self, conn: S) -> None: ...

    async def deliver(
        self, conn: S, message: Message, recipients: Sequence[str]
    ) -> DeliveryError | None: ...


class TokenBucket:
    """``rate_per_minute`` tokens a minute, at most ``burst`` at once; 0 = unlimited.

    Each ``acquire`` reserves the next free slot before it sleeps, so waiters
    are served in order and the rate holds across every connection.
    """

    def __init__(self, rate_per_minute: int, burst: int = 1) -> None:
        self.interval = 60.0 / rate_per_minute if rate_per_minute else 0.0
        self.tolerance = self.interval * (max(burst, 1) - 1)
        self._next = 0.0  # theoretical arrival time of the next token (monotonic)

    async def acquire(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        start = max(self._next, now)
        self._next = start + self.interval
        wait = start - self.tolerance - now
        if wait > 0:
            await asyncio.sleep(wait)


class Batch(Generic[K, S]):
    """Workers that share a source of items and a queue of results."""

    def __init__(self, owner: Pool[S], items: Iterable[Item[K]] | AsyncIterable[Item[K]]):
        self.owner = owner
        self.items = items
        self.lock = asyncio.Lock()
        self.exhausted = False
        # results wait here until the caller takes them; `room` bounds how many
        # sent-but-unrecorded messages there can be
        self.results: asyncio.Queue[tuple[K, DeliveryError | None] | None] = asyncio.Queue()
        self.room = asyncio.Semaphore(owner.settings.max_connections)
        self.workers: set[asyncio.Task[None]] = set()
        self.live = 0
        self.limit = owner.settings.max_connections
        self.failure: ConnectionFailed | None = None
        self.closing = False
        self._sync = iter(items) if isinstance(items, Iterable) else None
        self._async = aiter(items) if isinstance(items, AsyncIterable) else None

    async def run(self) -> AsyncIterator[tuple[K, DeliveryError | None]]:
        self._spawn()
        try:
            while (result := await self.results.get()) is not None:
                self.room.release()
                yield result
        finally:
            await self._stop_workers()
        if self.failure is not None and not self.exhausted:
            raise self.failure

    async def _stop_workers(self) -> None:
        """Cancel the workers and wait for them, cancelling again if one went on.

        (Python 3.11's ``asyncio.wait_for``, used by aiosmtplib, can swallow a
        cancellation that races with a reply; ``closing`` stops such a worker
        at its next step.)
        """
        self.closing = True
        while self.workers:
            for task in self.workers:
                task.cancel()
            await asyncio.wait(set(self.workers), timeout=0.1)

    def _spawn(self) -> None:
        self.live += 1
        task = asyncio.create_task(self._work())
        self.workers.add(task)
        task.add_done_callback(self.workers.discard)

    async def _next(self) -> Item[K] | None:
        async with self.lock:
            if self.exhausted:
                return None
            try:
                if self._async is not None:
                    return await anext(self._async)
                assert self._sync is not None
                return next(self._sync)
            except (StopIteration, StopAsyncIteration):
                self.exhausted = True
                return None

    async def _work(self) -> None:
        owner = self.owner
        try:
            async with owner.slots:
                conn = owner.checkout()
                try:
                    await self._loop(conn)
                finally:
                    owner.checkin(conn)
        finally:
            self.live -= 1
            if self.live == 0:
                self.results.put_nowait(None)  # every producer is gone

    async def _loop(self, conn: S) -> None:
        owner = self.owner
        while not (self.exhausted or self.closing):
            try:
                await conn.ensure_open()
            except ConnectionFailed as exc:
                self.failure = exc
                self.limit = 0  # no more new connections in this batch
                return
            await owner.bucket.acquire()
            item = await self._next()
            if item is None or self.closing:
                return
            if self.live < self.limit and not self.exhausted:
                self._spawn()
            key, message, recipients = item
            error = await owner.deliver(conn, message, recipients)
            await self.room.acquire()
            self.results.put_nowait((key, error))
