"""Which of the digests due now are worth sending (SPEC 2 `digest_when`, SPEC 10).

A digest goes to a liaison only once their `liaison_welcome` has gone out, and
not before the first month of their earliest pair has ended unless something
needs them (an open escalation, a new low rating). Then, with
`[schedule].digest_when = "attention"` (the default), a liaison or coordinator
gets it only when something is new since their last digest, or still needs them:

- new: an escalation opened or resolved, a pair gone quiet (a nudge went out),
  a low rating (1 or 2), a bounce, an end request; for coordinators also an
  email that failed and a reply quarantined;
- still needs them: an open escalation (it stays open until someone resolves it),
  or a new low rating (SPEC 3 lists it in the liaison's next digest).

A failed email or a quarantined reply is news once, not every week: a spam
message in the quarantine must not earn the coordinators a digest forever.

With `"always"` every digest due is sent once those two rules allow it. A
liaison's pairs are the pairs in their care; a coordinator's are all pairs. A
digest not sent is recorded `skipped` with the reason (decided once, at its
occurrence), so the outbox export says why nobody heard that week.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from mailflow.domain.calendar import PlannedEmail
from mailflow.domain.ledger import in_force, is_low_rating
from mailflow.domain.model import Event, EventType, Kind, OutboxStatus, Role
from mailflow.domain.schedule import month_start, quiet_from
from mailflow.services.state import ProgramState

NEWS_EVENTS = frozenset({EventType.BOUNCE, EventType.END_REQUEST})


def _news_event(event: Event) -> bool:
    return event.type in NEWS_EVENTS or is_low_rating(event)


class Attention:
    """One pass's view: what is new or open for each digest recipient."""

    def __init__(self, state: ProgramState) -> None:
        self.state = state
        self.last_digest: dict[str, datetime] = {}
        self.welcomed: dict[str, datetime] = {}
        self.nudged: dict[str, list[datetime]] = defaultdict(list)
        for entry in state.outbox:
            if entry.kind == Kind.DIGEST and entry.status == OutboxStatus.SENT:
                previous = self.last_digest.get(entry.person)
                if previous is None or entry.due_at > previous:
                    self.last_digest[entry.person] = entry.due_at
            elif entry.kind == Kind.LIAISON_WELCOME and entry.status in (
                    OutboxStatus.SENT, OutboxStatus.SKIPPED):
                self.welcomed[entry.person] = entry.due_at
            elif entry.kind == Kind.NUDGE:
                self.nudged[entry.pair_id].append(entry.due_at)
        self.by_liaison: dict[str, list[str]] = defaultdict(list)
        for pair_id, rec in state.pairs.items():
            self.by_liaison[rec.pair.liaison.email].append(pair_id)

    def skip_reason(self, planned: PlannedEmail) -> str:
        """Why this digest is not sent (see the module's docstring); "" to send it."""
        liaison = planned.role == Role.LIAISON
        pair_ids = self.by_liaison[planned.person] if liaison else list(self.state.pairs)
        if liaison and not self.welcomed_by(planned):
            return "the liaison's welcome has not gone out yet"
        if self.needs_attention(planned, pair_ids) or self.new_low_rating(planned, pair_ids):
            return ""
        if liaison and not self.first_month_over(planned, pair_ids):
            return "nothing needs attention before the first month of the liaison's pairs ends"
        if self.state.program.digest_always or self.has_news(planned, pair_ids):
            return ""
        return "nothing new since the last digest and nothing open (digest_when = attention)"

    def welcomed_by(self, planned: PlannedEmail) -> bool:
        welcomed = self.welcomed.get(planned.person)
        return welcomed is not None and welcomed <= planned.due_at

    def first_month_over(self, planned: PlannedEmail, pair_ids: list[str]) -> bool:
        program = self.state.program
        ends = []
        for pair_id in pair_ids:
            rec = self.state.pairs[pair_id]
            start = quiet_from(program, rec.pair.start_date(program),
                               self.state.histories[pair_id])
            ends.append(month_start(start, 2))
        return bool(ends) and min(ends) <= planned.due_at.date()

    def needs_attention(self, planned: PlannedEmail, pair_ids: list[str]) -> bool:
        """Something open, known by the digest's time, that needs this person."""
        until = planned.due_at
        scope = set(pair_ids)
        return any(esc.pair_id in scope and esc.opened_at <= until
                   and (esc.resolved_at is None or esc.resolved_at > until)
                   for esc in self.state.escalations)

    def coordinator_news(self, new: Callable[[datetime | None], bool]) -> bool:
        """An email that failed (last tried) or a reply quarantined since the last digest."""
        return any(e.status == OutboxStatus.FAILED and new(e.sent_at or e.next_attempt_at
                                                            or e.due_at)
                   for e in self.state.outbox) or any(
            new(_moment(r.get("at"))) for r in self.state.quarantined)

    def news_window(self, planned: PlannedEmail) -> Callable[[datetime | None], bool]:
        """Whether a moment is after this person's last digest and by this one's time."""
        since = self.last_digest.get(planned.person)
        until = planned.due_at

        def new(moment: datetime | None) -> bool:
            return moment is not None and (since is None or moment > since) and moment <= until
        return new

    def new_low_rating(self, planned: PlannedEmail, pair_ids: list[str]) -> bool:
        """A rating of 1 or 2 since the last digest: the liaison should follow it up, so it
        is listed even in the first month."""
        new = self.news_window(planned)
        return any(is_low_rating(e) and new(e.time) for pair_id in pair_ids
                   for e in in_force(self.state.events_by_pair.get(pair_id, ())))

    def has_news(self, planned: PlannedEmail, pair_ids: list[str]) -> bool:
        """Something new since this person's last digest (ever, before their first)."""
        new = self.news_window(planned)

        scope = set(pair_ids)
        if any(esc.pair_id in scope and (new(esc.opened_at) or new(esc.resolved_at))
               for esc in self.state.escalations):
            return True
        if planned.role == Role.COORDINATOR and self.coordinator_news(new):
            return True
        for pair_id in pair_ids:
            if any(new(day) for day in self.nudged.get(pair_id, ())):
                return True  # a pair gone quiet
            if any(_news_event(e) and new(e.time)
                   for e in in_force(self.state.events_by_pair.get(pair_id, ()))):
                return True
        return False


def _moment(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def decide_digests(state: ProgramState, planned: list[PlannedEmail]) -> list[PlannedEmail]:
    """The digests due, each either pending or skipped with the reason it is not sent."""
    if not planned:
        return []
    attention = Attention(state)
    decided = []
    for item in planned:
        reason = attention.skip_reason(item)
        decided.append(replace(item, status=OutboxStatus.SKIPPED, reason=reason)
                       if reason else item)
    return decided
