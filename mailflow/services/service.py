"""`mailflow run`: APScheduler wiring only.

Three jobs call the same one-shot passes as the CLI: send-due and digests on
the (possibly accelerated) program clock, poll on the wall clock every
`[imap].poll_seconds` (woken early by IMAP IDLE when the server offers it).
A job never overlaps itself, missed runs coalesce into one, a failing job is
logged with its cause and tried again at its next run, and SIGTERM/SIGINT
let the pass in hand finish before the process exits.

SIGHUP (`systemctl reload mailflow`) reloads config.toml and the templates
between passes, if the new config passes `mailflow check` (without the
roster); otherwise it is refused, logged and alerted, and the running config
is kept. A config file changed on disk without a reload is logged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from mailflow.app import App
from mailflow.clock import AcceleratedClock
from mailflow.domain.effects import short_hash
from mailflow.errors import MailflowError
from mailflow.services.checks import run_checks

if TYPE_CHECKING:
    from mailflow.web.app import WebServer

log = logging.getLogger("mailflow.service")

SEND_EVERY = timedelta(minutes=5)  # program time between send-due passes
MIN_WALL_INTERVAL = 0.5  # seconds: the fastest the service ticks under --speed


def prepare_run(app: App, *, speed: float, simulated: bool) -> None:
    """Before `mailflow run` starts: the program clock runs `speed` times faster (from --now
    when `simulated`), and the secrets are read now, so a missing one fails at start, not at
    the first pass."""
    if speed != 1.0 or simulated:
        app.clock = AcceleratedClock(app.clock.now(), speed)
    app.settings.smtp.password()
    app.settings.imap.password()


class Service:
    def __init__(self, app: App, *, speed: float = 1.0, until: datetime | None = None) -> None:
        self.app = app
        self.speed = speed
        self.until = until  # stop once the program clock passes this (simulations)
        self.stopping = asyncio.Event()
        self._locks = {name: asyncio.Lock() for name in ("send", "digest", "poll")}
        self._store = asyncio.Lock()  # one pass at a time holds the store
        self._idle_task: asyncio.Task[None] | None = None
        self._failed_passes: dict[str, int] = {}  # an outage is logged once, its end once
        self._scheduler: AsyncIOScheduler | None = None
        self._reload_task: asyncio.Task[bool] | None = None
        self._config_seen = self._config_stamp()  # what the running config was read from

    # --- jobs -----------------------------------------------------------------------

    async def _job(self, name: str, run: Callable[[], Awaitable[str]]) -> None:
        lock = self._locks[name]
        if lock.locked() or self.stopping.is_set():
            return
        self._notice_config_change()
        async with lock, self._store:
            try:
                summary = await run()
            except MailflowError as exc:
                self._failed(name, str(exc))
            except Exception:
                log.exception("%s pass crashed (will try again at the next run)", name)
            else:
                failed = self._failed_passes.pop(name, 0)
                if failed:
                    log.info("%s recovered after %d failed passes", name, failed)
                log.info("%s pass done: %s", name, summary)
        if self.until is not None and self.app.clock.now() >= self.until:
            self.stopping.set()

    def _failed(self, name: str, error: str) -> None:
        count = self._failed_passes.get(name, 0) + 1
        self._failed_passes[name] = count
        if count == 1:
            log.error("%s pass failed: %s (trying again at each run; logged again when it "
                      "recovers)", name, error)
        else:
            log.debug("%s pass failed again (%d): %s", name, count, error)

    async def send(self) -> None:
        async def run() -> str:
            report = await self.app.send_due()
            if report.connection_error or report.blocked:  # logged once, and its end once
                raise MailflowError(report.connection_error or
                                    f"{report.blocked}: {report.held[0][1]}")
            return (f"{len(report.sent)} sent, {len(report.deferred)} deferred, "
                    f"{len(report.failed)} failed, {len(report.skipped)} skipped")

        await self._job("send", run)

    async def digest(self) -> None:
        async def run() -> str:
            report = await self.app.send_due(digests=True)
            if report.connection_error or report.blocked:
                raise MailflowError(report.connection_error or
                                    f"{report.blocked}: {report.held[0][1]}")
            return f"{len(report.sent)} digests sent"

        await self._job("digest", run)

    async def poll(self) -> None:
        async def run() -> str:
            report, sent = await self.app.poll()
            if report.connection_error:
                raise MailflowError(report.connection_error)
            return f"{report.handled} handled, {len(sent.sent)} replies sent"

        await self._job("poll", run)

    # --- IDLE: wake the poll job when mail arrives ---------------------------------------

    async def _idle_loop(self, scheduler: AsyncIOScheduler) -> None:
        settings = self.app.settings.imap
        last_error = ""
        while not self.stopping.is_set():
            try:
                async with self.app.imap_mailbox() as box:
                    last_error = ""
                    if not box.has_idle:
                        log.info("the IMAP server offers no IDLE: polling every %ss",
                                 settings.poll_seconds)
                        return
                    await box.select(settings.folder)
                    while not self.stopping.is_set():
                        if await box.idle(min(settings.poll_seconds, 29 * 60)):
                            scheduler.modify_job("poll", next_run_time=datetime.now().astimezone())
            except MailflowError as exc:
                # the same failure again (a server down, a token refused) is not news
                log.log(logging.DEBUG if str(exc) == last_error else logging.WARNING,
                        "IDLE connection lost (%s); polling continues on schedule", exc)
                last_error = str(exc)
                await asyncio.sleep(min(settings.poll_seconds, 60))

    # --- configuration changes --------------------------------------------------------------

    def _config_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.app.config_path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _notice_config_change(self) -> None:
        """Log once that the file on disk is not the config in use."""
        stamp = self._config_stamp()
        if stamp != self._config_seen:
            self._config_seen = stamp
            log.warning("%s changed on disk; the running service still uses the config it "
                        "read: restart or reload to apply (`systemctl reload mailflow`, or "
                        "kill -HUP %d)", self.app.config_path, os.getpid())

    def _on_sighup(self) -> None:
        if self._reload_task is None or self._reload_task.done():
            self._reload_task = asyncio.create_task(self.reload())

    async def reload(self) -> bool:
        """Read the config and templates again, between passes; keep the running ones if
        the new config does not pass `mailflow check`. True when applied."""
        async with self._store:
            stamp = self._config_stamp()
            try:
                fresh = App.load(self.app.config_path, self.app.clock)
                errors = run_checks(fresh, None, roster=False).errors
                if fresh.settings.storage_path != self.app.settings.storage_path:
                    errors.append("[storage].path changed: restart the service to use "
                                  "another store")
            except MailflowError as exc:
                errors = [str(exc)]
            self._config_seen = stamp
            if errors:
                log.error("reload refused, the running config is kept: %s", "; ".join(errors))
                with contextlib.suppress(MailflowError):
                    await self.app.alert(
                        f"the changed {self.app.config_path.name} was not applied: it does not "
                        "pass `mailflow check`; the service goes on with the config it had",
                        errors, "reload-" + short_hash("\n".join(errors) + str(stamp)))
                return False
            self.app.apply(fresh.settings)
            if self._scheduler is not None:
                self._scheduler.reschedule_job(
                    "poll", trigger=IntervalTrigger(seconds=fresh.settings.imap.poll_seconds))
            log.info("reloaded %s and the templates", self.app.config_path)
            return True

    # --- lifecycle -------------------------------------------------------------------------

    def _interval(self, program_time: timedelta) -> float:
        return max(MIN_WALL_INTERVAL, program_time.total_seconds() / self.speed)

    async def run(self) -> None:
        scheduler = AsyncIOScheduler()
        defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        now = datetime.now().astimezone()
        tick = self._interval(SEND_EVERY)
        scheduler.add_job(self.send, IntervalTrigger(seconds=tick), id="send",
                          next_run_time=now, **defaults)
        scheduler.add_job(self.digest, IntervalTrigger(seconds=tick), id="digest",
                          next_run_time=now, **defaults)
        scheduler.add_job(self.poll, IntervalTrigger(seconds=self.app.settings.imap.poll_seconds),
                          id="poll", next_run_time=now, **defaults)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop, sig)
        web = self._start_web()  # a port in use stops the start, with the reason
        loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        self._scheduler = scheduler
        scheduler.start()
        self._idle_task = asyncio.create_task(self._idle_loop(scheduler))
        log.info("mailflow running: program %r, clock at %s, speed %sx",
                 self.app.settings.program.name, self.app.clock.now().isoformat(), self.speed)
        await self.stopping.wait()
        scheduler.shutdown(wait=False)
        self._idle_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):  # its connection closes first
            await self._idle_task
        if web is not None:
            web[0].stop()
            await web[1]
        for lock in self._locks.values():  # let the pass in hand finish
            async with lock:
                pass
        log.info("mailflow stopped cleanly")

    def _start_web(self) -> tuple[WebServer, asyncio.Task[None]] | None:
        """`[web].enabled`: the console, served in this event loop beside the jobs."""
        if not self.app.settings.web.enabled:
            return None
        from mailflow.web.app import WebServer

        server = WebServer(self.app, current=lambda: self.app)  # the reloaded App, if any
        return server, asyncio.create_task(server.serve())

    def _stop(self, sig: signal.Signals) -> None:
        log.info("received %s: finishing the pass in hand, then stopping", sig.name)
        self.stopping.set()
