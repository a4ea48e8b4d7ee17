"""Drafts -> messages: render and build each email, ahead of time in a worker process.

Composing an email (Jinja2, Markdown, CSS inlining, MIME) is most of the CPU a
send pass spends. A long pass on a machine with a second core composes chunks
in a worker process while this process sends and records earlier ones (or, in
a poll, reads the next replies); the first chunk is composed here while the
worker starts. A short pass, a single core or a worker that dies composes
everything here: the messages are the same either way, only the time differs.

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
    """Starts a compose session per pass; the session decides where drafts are composed."""

    def __init__(self, renderer: Renderer, sender: str, *, workers: int | None = None,
                 min_for_worker: int | None = None) -> None:
        self.renderer = renderer
        self.sender = sender
        self.workers = worker_count() if workers is None else workers
        self.min_for_worker = MIN_FOR_WORKER if min_for_worker is None else min_for_worker

    def session(self, now: datetime) -> ComposeSession:
        return ComposeSession(self, now)


class ComposeSession:
    """One pass's composing. `expect` the number of emails as soon as it is known: a
    long pass starts a worker process, and then every chunk but the first (composed
    here while the worker starts) goes to it as soon as it is submitted. Close the
    session (``with``) to end the worker."""

    def __init__(self, composer: Composer, now: datetime) -> None:
        self.composer = composer
        self.now = now
        self._pool: ProcessPoolExecutor | None = None
        self._submitted = 0

    def __enter__(self) -> ComposeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def expect(self, count: int) -> None:
        """About ``count`` emails will be submitted: start a worker if that pays."""
        c = self.composer
        if self._pool is None and c.workers and count >= c.min_for_worker:
            log.info("composing ahead in %s worker process(es)", c.workers)
            self._pool = ProcessPoolExecutor(
                max_workers=c.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker, initargs=(str(c.renderer.template_dir),),
            )

    def submit(self, drafts: list[Draft]) -> Pending:
        """Start composing ``drafts``; await the result with ``Pending.result()``."""
        first, self._submitted = self._submitted == 0, self._submitted + 1
        if self._pool is None or first:
            return Pending(self, drafts, None)
        try:
            future = self._pool.submit(_compose_in_worker, self.composer.sender, self.now, drafts)
        except (BrokenProcessPool, RuntimeError):
            self._worker_gone("could not take work")
            return Pending(self, drafts, None)
        return Pending(self, drafts, future)

    def here(self, drafts: list[Draft]) -> list[Composed]:
        c = self.composer
        return compose_all(c.renderer, c.sender, self.now, drafts)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _worker_gone(self, why: str) -> None:
        if self._pool is not None:
            log.warning("compose worker stopped (%s); composing in this process", why)
        self.close()


class Pending:
    """Drafts being composed, by the worker or (when awaited) here."""

    def __init__(self, session: ComposeSession, drafts: list[Draft],
                 future: Future[list[Message]] | None) -> None:
        self.session = session
        self.drafts = drafts
        self.future = future

    async def result(self) -> list[Composed]:
        if self.future is not None:
            try:
                messages = await asyncio.wrap_future(self.future)
            except BrokenProcessPool as exc:
                self.session._worker_gone(str(exc))
            else:
                return list(zip(self.drafts, messages, strict=True))
        return self.session.here(self.drafts)


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
