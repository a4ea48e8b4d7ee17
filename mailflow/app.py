"""The one place that builds adapters and services from the configuration."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path

from mailflow.adapters.imap import ImapMailbox
from mailflow.adapters.pidfile import ServiceLock
from mailflow.adapters.smtp import SmtpSender
from mailflow.adapters.store import TinyDBStore
from mailflow.clock import Clock
from mailflow.config import OAuth2Settings, Settings, load_settings
from mailflow.domain.model import OutboxEntry, PairState
from mailflow.domain.schedule import joining_month
from mailflow.errors import ConnectionFailed, MailflowError
from mailflow.oauth.cache import TokenCache
from mailflow.oauth.tokens import TokenSource
from mailflow.render.engine import Renderer
from mailflow.repository import ImportReport, Repository
from mailflow.roster import Rules, read_roster
from mailflow.services import health
from mailflow.services.dispatch import Dispatcher, SendReport
from mailflow.services.poller import Poller, PollReport
from mailflow.services.state import ProgramState
from mailflow.services.workers import WorkerPool


@lru_cache(maxsize=1)
def _local_hostname() -> str:
    """The name to greet SMTP servers with, looked up once (not on every connection)."""
    return socket.getfqdn()


def package_file(*parts: str) -> Path:
    """A file shipped inside the package (templates, scaffold)."""
    return Path(str(resources.files("mailflow").joinpath(*parts)))


def default_templates_dir() -> Path:
    return package_file("default_templates")


class WriterFirst:
    """In one process, readers in other threads let a waiting or working writer go first.

    The store's file lock has no order: readers taking turns (web pages) could keep
    a pass waiting for its exclusive lock. A reader in the writer's own thread does
    not wait (it would wait for itself)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._writers: dict[int, int] = {}  # thread id -> writers wanting or holding

    @contextmanager
    def writing(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._changed:
            self._writers[me] = self._writers.get(me, 0) + 1
        try:
            yield
        finally:
            with self._changed:
                self._writers[me] -= 1
                if not self._writers[me]:
                    del self._writers[me]
                self._changed.notify_all()

    @contextmanager
    def reading(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._changed:
            # at most a minute: then the store's own lock decides (and says it is busy)
            self._changed.wait_for(lambda: not self._writers or me in self._writers,
                                   timeout=60)
        yield


_GATES: dict[Path, WriterFirst] = {}
_GATES_LOCK = threading.Lock()


def store_gate(path: Path) -> WriterFirst:
    """One per store in this process, shared by every App on it (a reloaded config's too)."""
    with _GATES_LOCK:
        return _GATES.setdefault(path, WriterFirst())


@dataclass
class App:
    settings: Settings
    clock: Clock
    config_path: Path
    _renderer: Renderer | None = field(default=None, init=False, repr=False)
    _tokens: dict[str, TokenSource] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def load(cls, config_path: Path, clock: Clock) -> App:
        return cls(load_settings(config_path), clock, config_path)


    @contextmanager
    def repository(self, *, readonly: bool = False) -> Iterator[Repository]:
        """The store; a reader in another thread of this process (the web console's)
        waits while a writer (a pass) wants or holds it, so readers cannot starve it."""
        gate = store_gate(self.settings.storage_path)
        with gate.reading() if readonly else gate.writing():
            repo = Repository(TinyDBStore(self.settings.storage_path, readonly=readonly))
            try:
                yield repo
            finally:
                repo.close()

    def apply(self, settings: Settings) -> None:
        """Use a reloaded configuration from the next pass on (templates read afresh;
        OAuth 2.0 token sources made again from the new [oauth2] on first need)."""
        if (settings.oauth2, settings.smtp, settings.imap) != (
                self.settings.oauth2, self.settings.smtp, self.settings.imap):
            self._tokens = {}
        self.settings = settings
        self._renderer = None
        self._tokens = {}  # [oauth2] may have changed: tokens are fetched anew

    def service_lock(self) -> ServiceLock:
        """Held by `mailflow run` for its whole life: one service per store."""
        return ServiceLock(self.settings.storage_path)

    def renderer(self) -> Renderer:
        """One per App: compiled templates are kept, and reloaded when a file is edited."""
        if self._renderer is None:
            folder = self.settings.templates_dir
            self._renderer = Renderer(folder if folder.is_dir() else default_templates_dir())
        return self._renderer

    def token_cache(self) -> TokenCache:
        return TokenCache(self.settings.token_cache_path)

    def token_source(self, server: str) -> TokenSource | None:
        """The OAuth 2.0 tokens `server` ("smtp"/"imap") signs in with, or None for a
        password. One per mailbox for the App's life: tokens are kept in memory only."""
        section = self.settings.smtp if server == "smtp" else self.settings.imap
        oauth = self.settings.oauth2
        if section.auth != "oauth2" or oauth is None or section.username is None:
            return None
        if section.username not in self._tokens:
            self._tokens[section.username] = TokenSource(oauth, section.username,
                                                         self.token_cache())
        return self._tokens[section.username]

    def oauth_account(self) -> tuple[OAuth2Settings, str]:
        """The ``[oauth2]`` settings and the mailbox they sign in to, for `mailflow auth`."""
        oauth = self.settings.oauth2
        for section in (self.settings.imap, self.settings.smtp):
            if oauth is not None and section.auth == "oauth2" and section.username:
                return oauth, section.username
        raise MailflowError('neither [imap] nor [smtp] has auth = "oauth2" (with an [oauth2] '
                            "table): there is nothing to sign in to with OAuth 2.0")

    def token_failure(self) -> str | None:
        """Why the OAuth 2.0 token endpoint refused a token at the last try, if it did (an
        endpoint that cannot be reached is an outage like any other, not this)."""
        return next((t.failure for t in self._tokens.values() if t.failure and t.failure_refused),
                    None)

    def smtp_sender(self) -> SmtpSender:
        return SmtpSender(self.settings.smtp, tokens=self.token_source("smtp"),
                          envelope_from=self.settings.mail.reply_to,
                          local_hostname=_local_hostname())

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(self.settings, self.renderer(), self.smtp_sender)

    async def send_due(self, *, dry_run: bool = False, digests: bool = False) -> SendReport:
        now = self.clock.now()
        with self.repository(readonly=dry_run) as repo:
            dispatcher = self.dispatcher()
            report = await dispatcher.send_due_once(repo, now, dry_run=dry_run, digests=digests)
            if not dry_run:
                alerts = self._health(repo, "send", now, report.connection_error)
                failed = health.emails_error(now, report.failed or report.held, report.blocked)
                if failed and not report.connection_error:
                    with repo.transaction():
                        repo.set_meta(health.HEALTH, last_error=failed)
                await self._send_quietly(repo, now, alerts)
        return report

    def _health(self, repo: Repository, channel: str, now: datetime,
                error: str) -> list[OutboxEntry]:
        """Record the pass in the health record; queue the alerts it calls for.

        A pass that failed for want of an OAuth 2.0 token is recorded under "oauth"
        alone, so that sending and polling failing together give one alert."""
        record = repo.meta(health.HEALTH)
        changes: dict[str, object] = {}
        alerts: list[OutboxEntry] = []
        for name, problem in self._health_channels(channel, error or None):
            more, queued = health.update(
                {**record, **changes}, name, now, problem,
                alert_after=timedelta(minutes=self.settings.schedule.alert_after_minutes),
                coordinators=tuple(self.settings.program.coordinators),
                domain=self.settings.mail.domain,
            )
            changes.update(more)
            alerts.extend(queued)
        with repo.transaction():
            repo.set_meta(health.HEALTH, **changes)
            for alert in alerts:
                if repo.outbox_entry(alert.key) is None:
                    repo.put_outbox(alert)
        return alerts

    def _health_channels(self, channel: str,
                         error: str | None) -> list[tuple[str, str | None]]:
        token_failure = self.token_failure()
        if error and token_failure:
            return [("oauth", token_failure)]
        if self._tokens and not any(t.failure for t in self._tokens.values()):
            return [(channel, error), ("oauth", None)]
        return [(channel, error)]

    async def send_entries(self, repo: Repository, state: ProgramState,
                           entries: list[OutboxEntry], now: datetime, report: SendReport,
                           ) -> None:
        """Send these entries now (acks of an accepted reply...); what cannot go stays
        pending for the next pass, and ``report.connection_error`` says why."""
        if not entries:
            return
        try:
            await self.dispatcher().send_entries(repo, state, entries, now, report)
        except ConnectionFailed as exc:
            report.connection_error = str(exc)

    async def _send_quietly(self, repo: Repository, now: datetime,
                            entries: list[OutboxEntry]) -> None:
        """Send alerts now; what cannot go stays queued for the next pass."""
        if not entries:
            return
        state = ProgramState.load(repo, self.settings.program_model(), now)
        with suppress(ConnectionFailed):
            await self.dispatcher().send_entries(repo, state, entries, now, SendReport())

    async def alert(self, problem: str, details: list[str], period: str) -> None:
        """Tell the coordinators about a problem (once per ``period``): queued, and sent
        now if the server can be reached."""
        now = self.clock.now()
        alerts = health.problem_alerts(tuple(self.settings.program.coordinators),
                                       self.settings.mail.domain, now, problem, details, period)
        with self.repository() as repo:
            with repo.transaction():
                alerts = [a for a in alerts if repo.outbox_entry(a.key) is None]
                for alert in alerts:
                    repo.put_outbox(alert)
            await self._send_quietly(repo, now, alerts)

    def imap_mailbox(self) -> ImapMailbox:
        return ImapMailbox(self.settings.imap, tokens=self.token_source("imap"))

    async def poll(self, *, dry_run: bool = False) -> tuple[PollReport, SendReport]:
        """One pass over the inbox. The acks and escalations it queues are sent as each
        chunk of replies is stored, while the next chunk is read."""
        now = self.clock.now()
        sent = SendReport()
        poller = Poller(self.settings, self.imap_mailbox, self.renderer())
        with self.repository(readonly=dry_run) as repo:
            if dry_run:
                return await poller.poll_once(repo, now, dry_run=True), sent
            # one worker process (for a long poll) reads the replies and composes the acks
            with WorkerPool() as pool:
                async with self.dispatcher().stream(repo, now, sent, pool) as outbox:
                    report = await poller.poll_once(repo, now, outbox=outbox, pool=pool)
                    alerts = self._health(repo, "poll", now, report.connection_error)
                    if alerts:
                        state = report.state or ProgramState.load(
                            repo, self.settings.program_model(), now)
                        outbox.put(state, alerts)
        return report, sent

    def import_roster(self, path: Path, *, dry_run: bool = False) -> ImportReport:
        """All or nothing; ``dry_run``: what an import would change, changing nothing."""
        now = self.clock.now()
        with self.repository(readonly=dry_run) as repo:
            pairs = read_roster(path, self.roster_rules(repo))  # raises before any write
            report = repo.import_pairs(pairs, now, dry_run=dry_run)
        program = self.settings.program_model()
        added = set(report.added)
        for pair in pairs:
            month = joining_month(program, pair, now) if pair.pair_id in added else None
            if month is not None:
                report.joining.append((pair.pair_id, month))
        return report

    def roster_rules(self, repo: Repository) -> Rules:
        """A roster is checked against the pairs that have ended and the config."""
        ended = frozenset(pid for pid, rec in repo.pairs().items()
                          if rec.state == PairState.ENDED)
        return Rules(ended, self.settings.program.allow_multiple_mentors)


def scaffold(target: Path) -> list[Path]:
    """Create a program folder that passes `mailflow check`; never overwrite a file."""
    config = target / "config.toml"
    if config.exists():
        raise MailflowError(f"{config} already exists; choose an empty folder")
    target.mkdir(parents=True, exist_ok=True)
    created = [config, target / "roster.example.csv", target / "templates"]
    shutil.copyfile(package_file("scaffold", "config.example.toml"), config)
    shutil.copyfile(package_file("scaffold", "roster.example.csv"), created[1])
    if not created[2].exists():
        shutil.copytree(default_templates_dir(), created[2])
    return created
