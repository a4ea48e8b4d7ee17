"""Drafts -> messages: render and build each email, ahead of time in a worker process.

Composing an email (Jinja2, Markdown, CSS inlining, MIME) is most of the CPU a
send pass spends. A long pass on a machine with a second core composes each
next chunk in a worker process while this process sends and records the
current one; the first chunk is composed here while the worker starts. A
short pass, a single core or a worker that dies composes everything here:
the messages are the same either way, only the time differs.

A `Draft` carries everything composing needs (the template, its context and
the addresses), so a worker never touches the store or the program state.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import AsyncGenerator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from mailflow.errors import TemplateError
from mailflow.mime import OutgoingMessage, build_message
from mailflow.render import Renderer

log = logging.getLogger("mailflow.composer")

MIN_FOR_WORKER = 1000  # messages in a pass before a worker process is worth starting


@dataclass(frozen=True)
class Draft:
    """One email to compose: what the template needs and where the message goes."""

    key: str
    template: str
    context: dict[str, Any]
    to: str
    to_name: str
    reply_to: str
    message_id: str
    kind: str
    pair_id: str | None
    in_reply_to: str | None


# a message, or why it could not be composed (a template error, a bad address)
Message = OutgoingMessage | str
Composed = tuple[Draft, Message]


def compose(renderer: Renderer, sender: str, now: datetime, draft: Draft) -> OutgoingMessage:
    """Render the draft's template and build the message; TemplateError or ValueError."""
    rendered = renderer.render(draft.template, draft.context)
    return build_message(
        rendered, sender=sender, to=draft.to, to_name=draft.to_name, reply_to=draft.reply_to,
        message_id=draft.message_id, kind=draft.kind, pair_id=draft.pair_id, date=now,
        in_reply_to=draft.in_reply_to,
    )


def compose_all(renderer: Renderer, sender: str, now: datetime,
                drafts: list[Draft]) -> list[Composed]:
    composed: list[Composed] = []
    for draft in drafts:
        try:
            composed.append((draft, compose(renderer, sender, now, draft)))
        except (TemplateError, ValueError) as exc:
            composed.append((draft, str(exc)))
    return composed


def worker_count() -> int:
    """One worker when this process may use a second core, else none."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return 1 if cores > 1 else 0


class Composer:
    """Composes the chunks of a pass, in order, each next one ahead of time."""

    def __init__(self, renderer: Renderer, sender: str, *, workers: int | None = None,
                 min_for_worker: int | None = None) -> None:
        self.renderer = renderer
        self.sender = sender
        self.workers = worker_count() if workers is None else workers
        self.min_for_worker = MIN_FOR_WORKER if min_for_worker is None else min_for_worker

    async def chunks(self, drafts: Iterable[list[Draft]], now: datetime,
                     total: int) -> AsyncGenerator[list[Composed], None]:
        """Yield each chunk of ``drafts`` composed. ``drafts`` is read one chunk ahead
        of what has been yielded; ``total`` (messages in the pass) decides whether a
        worker process is started."""
        pending = iter(drafts)
        pool = self._pool() if self.workers and total >= self.min_for_worker else None
        try:
            current = next(pending, None)
            ahead = self._submit(pool, pending, now)  # the worker starts meanwhile
            while True:
                if current is not None:
                    yield compose_all(self.renderer, self.sender, now, current)
                if ahead is None:
                    current = next(pending, None)
                    if current is None:
                        return
                    continue
                chunk, future = ahead
                messages = await self._result(future)
                if messages is None or pool is None:  # the worker is gone: go on here
                    if pool is not None:
                        pool.shutdown(wait=True, cancel_futures=True)
                    pool, ahead, current = None, None, chunk
                    continue
                ahead, current = self._submit(pool, pending, now), None
                yield list(zip(chunk, messages, strict=True))
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _pool(self) -> ProcessPoolExecutor:
        log.info("composing ahead in %s worker process(es)", self.workers)
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker, initargs=(str(self.renderer.template_dir),),
        )

    def _submit(self, pool: ProcessPoolExecutor | None, pending: Iterator[list[Draft]],
                now: datetime) -> tuple[list[Draft], Future[list[Message]]] | None:
        if pool is None:
            return None
        chunk = next(pending, None)
        if chunk is None:
            return None
        try:
            return chunk, pool.submit(_compose_in_worker, self.sender, now, chunk)
        except (BrokenProcessPool, RuntimeError):
            future: Future[list[Message]] = Future()
            future.set_exception(BrokenProcessPool("the compose worker is not running"))
            return chunk, future

    async def _result(self, future: Future[list[Message]]) -> list[Message] | None:
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            log.warning("compose worker stopped (%s); composing in this process", exc)
            return None


# --- in the worker process -----------------------------------------------------------

_renderer: Renderer | None = None


def _start_worker(template_dir: str) -> None:
    global _renderer
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    parent = multiprocessing.parent_process()
    if parent is not None:  # a killed main process must not leave its worker behind
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()
    _renderer = Renderer(Path(template_dir))


def _exit_with(parent_sentinel: int) -> None:
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(0)


def _compose_in_worker(sender: str, now: datetime, drafts: list[Draft]) -> list[Message]:
    """The messages only: the drafts stay with the main process."""
    assert _renderer is not None, "the worker was started without its renderer"
    return [message for _, message in compose_all(_renderer, sender, now, drafts)]
