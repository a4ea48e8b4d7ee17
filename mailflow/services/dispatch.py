"""send_due_once: plan -> record -> render -> send -> record.

Each email has a fixed outbox key, recorded before anything is sent, so a
re-run never plans it twice and never sends a `sent` key again. A pass
renders every email before it sends the first: one that cannot be rendered
(a broken template) holds the whole pass, which sends nothing. A pass marks
a chunk's attempts in one commit, sends the chunk over reused connections,
and records results every `RECORD_EVERY` messages: a crash resends at most
those not yet recorded, with the same Message-ID.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from mailflow.adapters.smtp import SmtpSender
from mailflow.config import Settings
from mailflow.domain.calendar import PlannedEmail, plan
from mailflow.domain.digests import digests_due
from mailflow.domain.effects import escalation_id, short_hash
from mailflow.domain.keys import NO_PAIR, message_id, outbox_key, reply_address
from mailflow.domain.model import (
    Escalation,
    EscalationReason,
    Kind,
    OutboxEntry,
    OutboxStatus,
)
from mailflow.errors import ConnectionFailed, DeliveryError
from mailflow.render.engine import Renderer
from mailflow.render.mime import OutgoingMessage
from mailflow.repository import Repository
from mailflow.services import drafting as context
from mailflow.services.attention import decide_digests
from mailflow.services.composer import Composed, Composer, Draft, Message, Pending
from mailflow.services.state import ProgramState
from mailflow.services.workers import WorkerPool

log = logging.getLogger("mailflow.dispatch")

CHUNK = 250  # messages composed and marked as attempted per commit
RECORD_EVERY = 1  # results per commit: a crash resends at most this many (same Message-ID)
MAX_BACKOFF = timedelta(hours=6)
DIGESTS_AFTER_END = timedelta(days=14)


SenderFactory = Callable[[], SmtpSender]


@dataclass(repr=False)
class SendReport:
    recorded: int = 0
    skipped: list[OutboxEntry] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    deferred: list[tuple[str, str]] = field(default_factory=list)  # 4xx: retried later
    failed: list[tuple[str, str]] = field(default_factory=list)  # 5xx: kept for coordinators
    held: list[tuple[str, str]] = field(default_factory=list)  # could not be rendered
    would_send: list[OutboxEntry] = field(default_factory=list)  # dry run
    connection_error: str = ""
    blocked: str = ""  # an email could not be rendered: the pass sent nothing

    def __repr__(self) -> str:
        # Counts only: asyncio.run (3.11) reprs its coroutine's result twice, and the
        # entries of a 20,000-email pass made that take seconds.
        counts = ", ".join(f"{name}={len(getattr(self, name))}" for name in
                           ("skipped", "sent", "deferred", "failed", "held", "would_send"))
        return (f"SendReport(recorded={self.recorded}, {counts}, "
                f"connection_error={self.connection_error!r}, blocked={self.blocked!r})")


def backoff(attempts: int) -> timedelta:
    """5 minutes, doubling per attempt, at most 6 hours."""
    delay: timedelta = timedelta(minutes=5) * (2 ** max(0, attempts - 1))
    return min(delay, MAX_BACKOFF)


class Dispatcher:
    def __init__(self, settings: Settings, renderer: Renderer, sender: SenderFactory,
                 composer: Composer | None = None) -> None:
        self.settings = settings
        self.program = settings.program_model()
        self.renderer = renderer
        self.sender = sender
        self.composer = composer or Composer(renderer, settings.mail.from_)
        self.domain = settings.mail.domain

    # --- planning and recording ------------------------------------------------

    def record_due(self, repo: Repository, state: ProgramState, planned: list[PlannedEmail],
                   report: SendReport) -> None:
        """Store what the planner says is due, opening quiet escalations with it."""
        with repo.transaction():
            for item in planned:
                entry = item.to_outbox_entry(self.domain)
                if entry.kind == Kind.ESCALATION and entry.status == OutboxStatus.PENDING:
                    entry = self._open_quiet_escalation(repo, state, entry)
                repo.put_outbox(entry)
                report.recorded += 1
                if entry.status == OutboxStatus.SKIPPED:
                    report.skipped.append(entry)
                    log.info("outbox key=%s skipped: %s", entry.key, entry.last_error)

    def _open_quiet_escalation(self, repo: Repository | None, state: ProgramState,
                               entry: OutboxEntry) -> OutboxEntry:
        """The escalation a planned `quiet` or `no_contact` email announces (in memory
        only, without a repository: a dry run)."""
        reason = EscalationReason(entry.context.get("escalation_reason", "quiet"))
        esc = Escalation(escalation_id(entry.pair_id, reason, entry.key),
                         entry.pair_id, entry.person, reason, "", entry.due_at)
        if repo is not None:
            repo.put_escalation(esc)  # the state follows what the repository stores
        else:
            state.stored_escalation(esc)
        return replace(entry, context={**entry.context, "escalation_id": esc.id})

    def due_now(self, repo: Repository, state: ProgramState, now: datetime) -> list[PlannedEmail]:
        pairs = [r.pair for r in state.active_pairs()]
        keys = repo.outbox_keys()
        planned = [p for p in plan(self.program, pairs, state.histories, keys, now)
                   if p.is_due(now)]
        return planned

    def digests(self, repo: Repository, state: ProgramState, now: datetime) -> list[PlannedEmail]:
        """Digests go out while a pair runs, and for two weeks after the last term ends."""
        recent = state.today - DIGESTS_AFTER_END
        running = [r for r in state.pairs.values()
                   if r.in_roster and not state.term_ended(r, recent)]
        liaisons = {r.pair.liaison.email: r.pair.liaison for r in running}
        if not running:
            return []
        due = digests_due(self.program, liaisons.values(), now, repo.outbox_keys())
        return decide_digests(state, due)

    def hold_bouncing(self, repo: Repository, state: ProgramState,
                      entries: list[OutboxEntry], report: SendReport) -> list[OutboxEntry]:
        """Mail to an address that hard-bounced is skipped until the address is fixed."""
        bouncing = repo.bouncing()
        if not bouncing:
            return entries
        keep = []
        for entry in entries:
            since = bouncing.get(entry.person)
            if since is None or entry.kind in (Kind.ALERT, Kind.DIGEST):
                keep.append(entry)
                continue
            reason = (f"{entry.person} bounced on {since[:10]}: correct the address in the "
                      "roster and re-import (or the liaison replies RESOLVED to the bounce)")
            skipped = replace(entry, status=OutboxStatus.SKIPPED, last_error=reason)
            repo.put_outbox(skipped)
            report.skipped.append(skipped)
        return keep

    # --- sending ------------------------------------------------------------------

    def sendable(self, state: ProgramState, now: datetime,
                 kinds: frozenset[Kind] | None = None) -> list[OutboxEntry]:
        ready = [
            e for e in state.outbox
            if e.status == OutboxStatus.PENDING and e.due_at <= now
            and (e.next_attempt_at is None or e.next_attempt_at <= now)
            and (kinds is None or e.kind in kinds)
        ]
        return sorted(ready, key=lambda e: (e.due_at, e.key))

    def draft(self, entry: OutboxEntry, state: ProgramState) -> Draft:
        """What composing the entry's email needs; context.MissingContext if it cannot."""
        addressed = context.build(entry, state)
        return Draft(
            key=entry.key, template=addressed.template, context=addressed.context,
            to=entry.person, to_name=addressed.recipient.name,
            reply_to=reply_address(self.settings.mail.reply_to, entry.key),
            message_id=entry.message_id, kind=str(entry.kind),
            pair_id=None if entry.pair_id == NO_PAIR else entry.pair_id,
            in_reply_to=entry.context.get("in_reply_to") or None, given=addressed.given,
        )

    async def compose_first(self, repo: Repository | None, state: ProgramState,
                            entries: list[OutboxEntry], now: datetime, report: SendReport,
                            ) -> list[Composed]:
        """Compose every entry before any is sent (in a worker process too, for a long
        pass). A message that could not be composed (a broken template) is held, with
        its reason, and ``report.blocked`` says so: then nothing of the pass may go."""
        composed: list[Composed] = []
        with self.composer.session(now) as compose:
            compose.expect(len(entries))
            batches = [compose.submit(self.drafts(repo, state, entries[i:i + CHUNK], report),
                                      here=(i // CHUNK) % 2 == 0)
                       for i in range(0, len(entries), CHUNK)]
            for batch in batches:
                composed += zip(batch.batch, await batch.result(), strict=True)
        by_key = {entry.key: entry for entry in entries}
        failed = [(by_key[d.key], m) for d, m in composed if isinstance(m, str)]
        for entry, reason in failed:
            self._hold(repo, entry, reason, report)
        if failed:
            report.blocked = (f"{len(failed)} email(s) could not be rendered, so none of the "
                              f"{len(entries)} due was sent: fix the template, then run again")
        return composed

    async def send_entries(self, repo: Repository, state: ProgramState,
                           entries: list[OutboxEntry], now: datetime,
                           report: SendReport) -> None:
        """Compose every entry, then send them over one set of reused connections.

        Nothing is sent if one of them could not be composed (``report.blocked``).
        Raises ConnectionFailed once what was sent so far has been recorded.
        """
        composed = await self.compose_first(repo, state, entries, now, report)
        if report.blocked or not composed:
            return
        by_key = {entry.key: entry for entry in entries}
        async with self.sender() as smtp:
            for start in range(0, len(composed), CHUNK):
                await self.send_composed(repo, smtp, by_key, composed[start:start + CHUNK],
                                         now, report)

    def stream(self, repo: Repository, now: datetime, report: SendReport,
               pool: WorkerPool | None = None) -> OutboxStream:
        """Send entries as they are queued (a poll's acks, chunk by chunk); see OutboxStream.
        ``pool``: a worker process shared with the caller (the poll's reader)."""
        return OutboxStream(self, repo, now, report, pool)

    # --- the two steps a pass (send_entries) and a stream (OutboxStream) share ----------

    def drafts(self, repo: Repository | None, state: ProgramState, entries: list[OutboxEntry],
               report: SendReport) -> list[Draft]:
        """What composing each entry needs; an entry that cannot be drafted is held
        (pending, with the reason, in ``report.held``)."""
        drafts = []
        for entry in entries:
            try:
                drafts.append(self.draft(entry, state))
            except context.MissingContext as exc:
                self._hold(repo, entry, str(exc), report)
        return drafts

    async def send_composed(self, repo: Repository, smtp: SmtpSender,
                            by_key: dict[str, OutboxEntry], composed: list[Composed],
                            now: datetime, report: SendReport,
                            keep_going: Callable[[], bool] = lambda: True) -> None:
        """Mark a composed chunk attempted in one commit, send it, record each result.
        Once ``keep_going()`` is false no further email of the chunk is begun."""
        chunk = self._composed(repo, by_key, composed, report)
        if not chunk:
            return
        with repo.transaction():
            for entry, _ in chunk:
                repo.put_outbox(replace(entry, attempts=entry.attempts + 1))
        results: list[tuple[OutboxEntry, DeliveryError | None]] = []
        try:
            stream = smtp.send_many((e.key, msg, [e.person]) for e, msg in chunk if keep_going())
            async with aclosing(stream):  # type: ignore[type-var]
                async for key, error in stream:
                    results.append((by_key[key], error))
                    if len(results) >= RECORD_EVERY:
                        self._record_results(repo, results, now, report)
                        results = []
        finally:
            self._record_results(repo, results, now, report)

    def _composed(self, repo: Repository, by_key: dict[str, OutboxEntry],
                  composed: list[Composed], report: SendReport,
                  ) -> list[tuple[OutboxEntry, OutgoingMessage]]:
        chunk = []
        for draft, message in composed:
            entry = by_key[draft.key]
            if isinstance(message, str):
                self._hold(repo, entry, message, report)
            else:
                chunk.append((entry, message))
        return chunk

    def _hold(self, repo: Repository | None, entry: OutboxEntry, reason: str,
              report: SendReport) -> None:
        """An email that cannot be composed stays pending, with the reason, for coordinators
        (recorded unless this is a dry run, ``repo`` None)."""
        report.held.append((entry.key, reason))
        if repo is None:
            return
        log.error("outbox key=%s not rendered: %s", entry.key, reason)
        repo.put_outbox(replace(entry, last_error=f"not rendered: {reason}"))

    def _record_results(self, repo: Repository,
                        results: list[tuple[OutboxEntry, DeliveryError | None]],
                        now: datetime, report: SendReport) -> None:
        """Record finished sends; what was not attempted (connection lost) stays pending.

        Written at once, fsynced in the background (a killed process cannot lose it,
        and the next email does not wait for the disk)."""
        with repo.transaction(sync="background"):
            for entry, error in results:
                attempts = entry.attempts + 1
                if error is None:
                    updated = replace(entry, status=OutboxStatus.SENT, sent_at=now,
                                      attempts=attempts, last_error="", next_attempt_at=None)
                    report.sent.append(entry.key)
                    log.info("sent key=%s message_id=%s", entry.key, entry.message_id)
                elif error.temporary:
                    updated = replace(entry, attempts=attempts, last_error=str(error),
                                      next_attempt_at=now + backoff(attempts))
                    report.deferred.append((entry.key, str(error)))
                    log.warning("deferred key=%s: %s", entry.key, error)
                else:
                    updated = replace(entry, status=OutboxStatus.FAILED, attempts=attempts,
                                      last_error=str(error))
                    report.failed.append((entry.key, str(error)))
                    log.error("failed key=%s: %s", entry.key, error)
                repo.put_outbox(updated)

    # --- the pass -------------------------------------------------------------------

    async def send_due_once(self, repo: Repository, now: datetime, *,
                            dry_run: bool = False, digests: bool = False) -> SendReport:
        report = SendReport()
        state = ProgramState.load(
            repo, self.program, now,
            share_notes_with_liaison=self.settings.privacy.share_notes_with_liaison,
        )
        planned = self.digests(repo, state, now) if digests else self.due_now(repo, state, now)
        if dry_run:
            await self._dry_run(state, planned, now, report, digests)
            return report
        self.record_due(repo, state, planned, report)
        try:
            ready = self.hold_bouncing(repo, state, self.sendable(state, now, _kinds(digests)),
                                       report)
            await self.send_entries(repo, state, ready, now, report)
            if report.failed or report.held:
                await self._alert_coordinators(repo, state, now, report)
        except ConnectionFailed as exc:
            report.connection_error = str(exc)
        return report

    async def _dry_run(self, state: ProgramState, planned: list[PlannedEmail], now: datetime,
                       report: SendReport, digests: bool) -> None:
        """What a pass would send, each email rendered as the real pass would render it."""
        report.would_send = []
        for item in planned:
            entry = item.to_outbox_entry(self.domain)
            if entry.status == OutboxStatus.SKIPPED:
                report.skipped.append(entry)
                continue
            if entry.kind == Kind.ESCALATION:
                entry = self._open_quiet_escalation(None, state, entry)
            report.would_send.append(entry)
        report.would_send += self.sendable(state, now, _kinds(digests))
        await self.compose_first(None, state, report.would_send, now, report)

    async def _alert_coordinators(self, repo: Repository, state: ProgramState, now: datetime,
                                  report: SendReport) -> None:
        """One alert email per pass that met permanent failures or unrenderable mail (one
        per distinct rendering problem, however many passes meet it)."""
        details = [f"{key}: {error}" for key, error in report.failed + report.held]
        alerts = []
        problem = f"{len(details)} email(s) could not be sent in the send pass"
        period = f"send-{now.strftime('%Y%m%dT%H%M%S')}"
        if report.blocked and not report.failed:
            problem = report.blocked
            period = "render-" + short_hash("\n".join(sorted({e for _, e in report.held})))
        for coordinator in self.program.coordinators:
            key = outbox_key(NO_PAIR, str(Kind.ALERT), period, coordinator)
            entry = OutboxEntry(
                key, NO_PAIR, coordinator, "coordinator", Kind.ALERT, period, now,
                message_id(key, self.domain),
                context={"problem": problem, "since": now.isoformat(), "recovered": False,
                         "details": details},
            )
            if repo.outbox_entry(key) is not None:
                continue  # this problem was reported already
            repo.put_outbox(entry)
            alerts.append(entry)
        await self.send_entries(repo, state, alerts, now, SendReport())


class OutboxStream:
    """Sends outbox entries as they are put, while the caller goes on (a poll's acks).

    Each `put` drafts the entries and submits them for composing at once (to the
    worker process, in a long poll); a task sends the composed chunks in order
    over one set of connections. Use ``async with``: leaving waits until every
    entry put has been sent or recorded as not sent. If the SMTP server cannot
    be reached, what is left stays pending in the store for the next pass and
    `SendReport.connection_error` says why.
    """

    def __init__(self, dispatcher: Dispatcher, repo: Repository, now: datetime,
                 report: SendReport, pool: WorkerPool | None = None) -> None:
        self.dispatcher = dispatcher
        self.repo = repo
        self.now = now
        self.report = report
        self._by_key: dict[str, OutboxEntry] = {}
        self._queue: asyncio.Queue[Pending[Draft, Message] | None] = asyncio.Queue()
        # the first chunk is composed here: the worker is busy reading replies then
        self._compose = dispatcher.composer.session(now, pool=pool)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def __aenter__(self) -> OutboxStream:
        self._task = asyncio.create_task(self._send_all())
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        assert self._task is not None
        # If the caller failed, no new email is begun; those in flight are finished and
        # recorded (cancelling them could deliver one unrecorded, and send it twice).
        # What was not begun stays pending in the store for the next pass.
        self._stopping = exc_type is not None
        self._queue.put_nowait(None)
        try:
            await self._task
        finally:
            self._compose.close()

    def expect(self, count: int) -> None:
        """About ``count`` entries will be put (a worker process pays for many)."""
        self._compose.expect(count)

    def put(self, state: ProgramState, entries: list[OutboxEntry]) -> None:
        if self._task is not None and self._task.done():
            return  # sending has stopped (connection_error): these wait for the next pass
        for start in range(0, len(entries), CHUNK):
            chunk = entries[start:start + CHUNK]
            self._by_key.update((entry.key, entry) for entry in chunk)
            drafts = self.dispatcher.drafts(self.repo, state, chunk, self.report)
            self._queue.put_nowait(self._compose.submit(drafts))

    async def _send_all(self) -> None:
        try:
            async with self.dispatcher.sender() as smtp:
                while (pending := await self._queue.get()) is not None and not self._stopping:
                    composed = list(zip(pending.batch, await pending.result(), strict=True))
                    await self.dispatcher.send_composed(
                        self.repo, smtp, self._by_key, composed, self.now, self.report,
                        keep_going=lambda: not self._stopping)
        except ConnectionFailed as exc:
            self.report.connection_error = str(exc)


def _kinds(digests: bool) -> frozenset[Kind] | None:
    return frozenset({Kind.DIGEST}) if digests else frozenset(set(Kind) - {Kind.DIGEST})
