"""One consistent read of the store, shared by a pass's planner, renderer and status.

A `ProgramState` follows its `Repository` (`Repository.follow`): every record the
repository stores (an outbox entry, an escalation, an event, a pair, a processed
message) is also put in each state loaded from it, so a pass reads what it has
written without keeping the state by hand. Writes go through the repository only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from mailflow.domain.history import PairHistory, build_history
from mailflow.domain.ledger import GoalStatus, goals
from mailflow.domain.model import (
    Escalation,
    Event,
    Kind,
    OutboxEntry,
    PairState,
    Program,
)
from mailflow.domain.schedule import month_start, term_end
from mailflow.ports import Record
from mailflow.repository import PairRecord, Repository

QUARANTINED = "quarantined"


class ProgramState:
    """The program as a pass sees it: pairs, events, escalations, outbox, quarantine."""

    def __init__(self, program: Program, now: datetime, pairs: dict[str, PairRecord],
                 events_by_pair: Mapping[str, list[Event]],
                 escalations: Iterable[Escalation], outbox: Iterable[OutboxEntry],
                 quarantined: Iterable[Record] = (), *,
                 share_notes_with_liaison: bool = False) -> None:
        self.program = program
        self.now = now
        self.pairs = pairs
        self.events_by_pair: defaultdict[str, list[Event]] = defaultdict(list, events_by_pair)
        self.share_notes_with_liaison = share_notes_with_liaison
        self._histories: dict[str, PairHistory] = {}
        self._stale: set[str] = set(pairs)
        self._outbox = {entry.key: entry for entry in outbox}
        self._escalations: dict[str, Escalation] = {}
        self._escalations_of: defaultdict[str, dict[str, Escalation]] = defaultdict(dict)
        for esc in escalations:
            self.stored_escalation(esc)
        self._quarantined = {r["id"]: r for r in quarantined}

    @classmethod
    def load(cls, repo: Repository, program: Program, now: datetime, *,
             share_notes_with_liaison: bool = False) -> ProgramState:
        """Read the store once; the state then follows what ``repo`` stores."""
        events: defaultdict[str, list[Event]] = defaultdict(list)
        for event in repo.events():
            events[event.pair_id].append(event)
        quarantined = [r for r in repo.processed_records() if r.get("outcome") == QUARANTINED]
        state = cls(program, now, repo.pairs(), events, repo.escalations(), repo.outbox(),
                    quarantined, share_notes_with_liaison=share_notes_with_liaison)
        repo.follow(state)
        return state

    # --- what the repository stored (see Repository.follow) ------------------------------

    def stored_outbox(self, entry: OutboxEntry) -> None:
        self._outbox[entry.key] = entry

    def stored_escalation(self, esc: Escalation) -> None:
        self._escalations[esc.id] = esc
        self._escalations_of[esc.pair_id][esc.id] = esc
        self._stale.add(esc.pair_id)

    def stored_event(self, event: Event) -> None:
        self.events_by_pair[event.pair_id].append(event)
        self._stale.add(event.pair_id)

    def stored_pair(self, rec: PairRecord) -> None:
        self.pairs[rec.pair_id] = rec
        self._stale.add(rec.pair_id)

    def stored_processed(self, record: Record) -> None:
        if record.get("outcome") == QUARANTINED:
            self._quarantined[record["id"]] = record
        else:
            self._quarantined.pop(record["id"], None)

    # --- reading ---------------------------------------------------------------------

    @property
    def outbox(self) -> Collection[OutboxEntry]:
        """One entry per key, as last stored."""
        return self._outbox.values()

    @property
    def escalations(self) -> Collection[Escalation]:
        """One escalation per id, as last stored."""
        return self._escalations.values()

    @property
    def quarantined(self) -> Collection[Record]:
        return self._quarantined.values()

    @property
    def histories(self) -> Mapping[str, PairHistory]:
        """Each pair's history, folded again for the pairs written since it was read."""
        for pair_id in self._stale:
            rec = self.pairs.get(pair_id)
            if rec is not None:
                self._histories[pair_id] = build_history(
                    self.events_by_pair.get(pair_id, []), timezone=self.program.timezone,
                    escalations=list(self._escalations_of.get(pair_id, {}).values()),
                    state=rec.state if rec.state != PairState.ACTIVE else None,
                    ended_at=rec.state_since.date()
                    if rec.state == PairState.ENDED and rec.state_since else None,
                    first_seen=rec.first_seen,
                )
        self._stale.clear()
        return self._histories

    @property
    def today(self) -> date:
        return self.now.astimezone(ZoneInfo(self.program.timezone)).date()

    def active_pairs(self) -> list[PairRecord]:
        """Pairs the planner considers: in the roster, or ended (who still get feedback)."""
        return [r for r in self.pairs.values() if r.in_roster or r.state == PairState.ENDED]

    def goals(self, pair_id: str) -> list[GoalStatus]:
        """The pair's recorded goals (not withdrawn), numbered, and which were reached."""
        return goals(self.events_by_pair.get(pair_id, []))

    def escalation(self, escalation_id: str) -> Escalation | None:
        return self._escalations.get(escalation_id)

    def open_escalations(self, pair_id: str | None = None) -> list[Escalation]:
        of = self._escalations.values() if pair_id is None else \
            self._escalations_of.get(pair_id, {}).values()
        return [e for e in of if e.resolved_at is None]

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


def last_ack_times(outbox: Iterable[OutboxEntry]) -> dict[str, datetime]:
    """When each person was last sent (or queued) an ack: the per-sender rate limit."""
    latest: dict[str, datetime] = {}
    for entry in outbox:
        if entry.kind == Kind.ACK:
            previous = latest.get(entry.person)
            if previous is None or entry.due_at > previous:
                latest[entry.person] = entry.due_at
    return latest
