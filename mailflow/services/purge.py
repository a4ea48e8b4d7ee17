"""`mailflow purge --before DATE`: forget what people wrote, keep what the report counts.

For every pair whose term ended (or that was ended) before DATE, the words people
wrote are removed: the ``text`` of its events (check-in notes, goals, HELP and END
texts, feedback, notes) and escalations, and the reply lines an ``ack`` repeats
(``recorded`` / ``ignored`` in the outbox). Quarantined and processed messages
received before DATE lose their subject and sender address. What the report,
status and exports count stays: event types, dates and times, pair ids, people's
addresses in events, escalation reasons and times, outbox keys and statuses.

Everything happens in one store transaction: all of it, or (on a crash or an
error) none; the store is then compacted, so the old texts leave its journal too
(backups made before keep them). A DATE that would touch a pair whose term is not over by then is
refused, and so is a DATE in the future.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from mailflow.app import App
from mailflow.domain.model import PairState
from mailflow.domain.schedule import term_end
from mailflow.errors import MailflowError
from mailflow.repository import PairRecord, Repository, pair_from_record

_REPLY_CONTEXT_KEYS = ("recorded", "ignored", "read_lines")  # the participant's words
PURGED = ""


@dataclass
class PurgeReport:
    before: date
    pairs: list[str] = field(default_factory=list)
    events: int = 0
    escalations: int = 0
    outbox: int = 0
    messages: int = 0  # processed / quarantined records

    @property
    def changed(self) -> int:
        return self.events + self.escalations + self.outbox + self.messages


def pair_term_end(rec: PairRecord, program_start: date, months: int) -> date:
    """The day a pair's term ends: N months after its start, or the day it was ended."""
    end = term_end(rec.pair.start or program_start, months)
    if rec.state == PairState.ENDED and rec.state_since is not None:
        end = min(end, rec.state_since.date())
    return end


def _day(value: str | None, zone: ZoneInfo) -> date | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment.astimezone(zone).date() if moment.tzinfo else moment.date()


def purge(repo: Repository, *, before: date, today: date, program_start: date, months: int,
          timezone: str, dry_run: bool = False) -> PurgeReport:
    """Remove message texts of pairs whose term ended before `before` (one transaction)."""
    if before > today:
        raise MailflowError(
            f"--before {before} is in the future (today is {today}); give a date on or "
            "before today, after the end of the terms you want to purge")
    zone = ZoneInfo(timezone)
    store = repo.store
    ends = {pid: pair_term_end(pair_from_record(r), program_start, months)
            for pid, r in store.all("pairs").items()}
    touched = _pairs_with_text_before(repo, before, zone)
    open_terms = sorted(pid for pid in touched if pid in ends and ends[pid] >= before)
    if open_terms:
        details = ", ".join(f"{pid} (ends {ends[pid]})" for pid in open_terms)
        latest = max(ends[pid] for pid in open_terms)
        raise MailflowError(
            f"--before {before} would touch pairs whose term is not over by then: {details}. "
            f"Give a date after {latest}, or end those pairs first (mailflow pair end ID); "
            "nothing was purged")
    report = PurgeReport(before, pairs=sorted(p for p in ends if ends[p] < before))
    purged = set(report.pairs)
    changes = list(_changes(repo, purged, before, zone, report))
    if not dry_run and changes:
        with repo.transaction():
            for table, record in changes:
                store.put(table, record)
        # The journal still holds the old records until the next compaction: compact now,
        # so the texts leave the store's files (not just its current state).
        compact = getattr(store, "compact", None)
        if compact is not None:
            compact()
    return report


def purge_program(app: App, *, before: date, dry_run: bool = False) -> PurgeReport:
    """`purge` on the program's store, today being the program clock's day in its time zone."""
    program = app.settings.program
    today = app.clock.now().astimezone(ZoneInfo(program.timezone)).date()
    with app.repository(readonly=dry_run) as repo:
        return purge(repo, before=before, today=today, program_start=program.start,
                     months=program.months, timezone=program.timezone, dry_run=dry_run)


def _pairs_with_text_before(repo: Repository, before: date, zone: ZoneInfo) -> set[str]:
    """Pairs with an event or escalation text dated before `before`."""
    found: set[str] = set()
    for r in repo.store.all("events").values():
        day = _day(r.get("time"), zone)
        if r.get("pair_id") and r.get("text") and day is not None and day < before:
            found.add(r["pair_id"])
    for r in repo.store.all("escalations").values():
        day = _day(r.get("opened_at"), zone)
        if r.get("pair_id") and r.get("text") and day is not None and day < before:
            found.add(r["pair_id"])
    return found


def _changes(repo: Repository, purged: set[str], before: date, zone: ZoneInfo,
             report: PurgeReport) -> Any:
    store = repo.store
    for r in store.all("events").values():
        old_unpaired = not r.get("pair_id") and (_day(r.get("time"), zone) or before) < before
        if r.get("text") and (r.get("pair_id") in purged or old_unpaired):
            report.events += 1
            yield "events", {**r, "text": PURGED}
    for r in store.all("escalations").values():
        if r.get("text") and r.get("pair_id") in purged:
            report.escalations += 1
            yield "escalations", {**r, "text": PURGED}
    for r in store.all("outbox").values():
        context = r.get("context") or {}
        if r.get("pair_id") in purged and any(context.get(k) for k in _REPLY_CONTEXT_KEYS):
            report.outbox += 1
            scrubbed = {**context, **{k: [] for k in _REPLY_CONTEXT_KEYS if k in context}}
            yield "outbox", {**r, "context": scrubbed}
    for r in store.all("processed").values():
        day = _day(r.get("at"), zone)
        if day is not None and day < before and (r.get("subject") or r.get("from")):
            report.messages += 1
            yield "processed", {**r, "subject": PURGED, "from": PURGED}
