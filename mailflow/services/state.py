"""One consistent read of the store, shared by a pass's planner, renderer and status."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from mailflow.domain.history import PairHistory, build_history
from mailflow.domain.model import (
    Escalation,
    Event,
    EventType,
    Kind,
    OutboxEntry,
    PairState,
    Program,
)
from mailflow.domain.schedule import month_start, term_end
from mailflow.repository import PairRecord, Repository


@dataclass
class ProgramState:
    program: Program
    now: datetime
    pairs: dict[str, PairRecord]
    events_by_pair: dict[str, list[Event]]
    escalations: list[Escalation]
    histories: dict[str, PairHistory]
    outbox: list[OutboxEntry]
    quarantined: list[dict[str, Any]]
    share_notes_with_liaison: bool = False

    @classmethod
    def load(cls, repo: Repository, program: Program, now: datetime, *,
             share_notes_with_liaison: bool = False) -> ProgramState:
        pairs = repo.pairs()
        events: dict[str, list[Event]] = defaultdict(list)
        for event in repo.events():
            events[event.pair_id].append(event)
        escalations = repo.escalations()
        by_pair: dict[str, list[Escalation]] = defaultdict(list)
        for esc in escalations:
            by_pair[esc.pair_id].append(esc)
        histories = {
            pair_id: build_history(
                events[pair_id], timezone=program.timezone, escalations=by_pair[pair_id],
                state=rec.state if rec.state != PairState.ACTIVE else None,
                ended_at=rec.state_since.date()
                if rec.state == PairState.ENDED and rec.state_since else None,
            )
            for pair_id, rec in pairs.items()
        }
        quarantined = [r for r in repo.processed_records() if r.get("outcome") == "quarantined"]
        return cls(program, now, pairs, events, escalations, histories, repo.outbox(),
                   quarantined, share_notes_with_liaison)

    @property
    def today(self) -> date:
        return self.now.astimezone(ZoneInfo(self.program.timezone)).date()

    def active_pairs(self) -> list[PairRecord]:
        """Pairs the planner considers: in the roster, or ended (who still get feedback)."""
        return [r for r in self.pairs.values() if r.in_roster or r.state == PairState.ENDED]

    def goals(self, pair_id: str) -> list[str]:
        return [e.text for e in self.events_by_pair.get(pair_id, []) if e.type == EventType.GOAL]

    def open_escalations(self, pair_id: str | None = None) -> list[Escalation]:
        return [e for e in self.escalations
                if e.resolved_at is None and (pair_id is None or e.pair_id == pair_id)]

    def term_ended(self, rec: PairRecord, day: date | None = None) -> bool:
        end = term_end(rec.pair.start_date(self.program), self.program.months)
        return (day or self.today) >= end or rec.state == PairState.ENDED

    def month_of(self, rec: PairRecord, day: date) -> int:
        """The term month (1..N) that `day` falls in for this pair."""
        start = rec.pair.start_date(self.program)
        month = 1
        while month < self.program.months and month_start(start, month + 1) <= day:
            month += 1
        return month

    def last_met(self, pair_id: str) -> date | None:
        met = self.histories[pair_id].met_dates
        return met[-1] if met else None


def last_ack_times(outbox: list[OutboxEntry]) -> dict[str, datetime]:
    """When each person was last sent (or queued) an ack: the per-sender rate limit."""
    latest: dict[str, datetime] = {}
    for entry in outbox:
        if entry.kind == Kind.ACK:
            previous = latest.get(entry.person)
            if previous is None or entry.due_at > previous:
                latest[entry.person] = entry.due_at
    return latest
