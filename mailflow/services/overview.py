"""What the web console shows: the pairs most urgent first, and one pair's whole history.

Built from the same `ProgramState` and the same rules as `mailflow status`
(`pair_state`, `quiet_days`), limited to the pairs a person may see.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any

from mailflow.domain.ledger import goals, in_force, in_force_named
from mailflow.domain.model import (
    Escalation,
    Event,
    EventType,
    OutboxEntry,
    OutboxStatus,
    PairState,
)
from mailflow.repository import PairRecord
from mailflow.services.state import ProgramState
from mailflow.services.status import pair_state, quiet_days

PER_PAGE = 50
# the order of urgency: a pair asking to end, then open escalations, then the quietest
_STATE_RANK = {PairState.ENDING: 0, PairState.ACTIVE: 1, PairState.PAUSED: 2,
               PairState.COMPLETED: 3, PairState.ENDED: 4}


@dataclass
class PairRow:
    pair_id: str
    mentor: str
    mentee: str
    liaison: str
    state: str
    last_met: str
    quiet_days: int
    open_escalations: int

    def matches(self, query: str) -> bool:
        text = " ".join((self.pair_id, self.mentor, self.mentee, self.liaison, self.state))
        return all(word in text.lower() for word in query.lower().split())


@dataclass
class Overview:
    rows: list[PairRow]  # this page's
    total: int  # rows matching the search, on every page
    page: int
    pages: int
    counts: dict[str, int]
    escalations: list[Escalation]
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    failed: list[OutboxEntry] = field(default_factory=list)  # emails refused for good


def _row(state: ProgramState, rec: PairRecord, open_count: int) -> PairRow:
    history = state.histories[rec.pair_id]
    pair = rec.pair
    return PairRow(
        pair.pair_id, f"{pair.mentor.name} <{pair.mentor.email}>",
        f"{pair.mentee.name} <{pair.mentee.email}>", f"{pair.liaison.name} <{pair.liaison.email}>",
        str(pair_state(rec, history, state.program, state.today)),
        history.met_dates[-1].isoformat() if history.met_dates else "",
        quiet_days(rec, history, state.program, state.today), open_count)


def _urgency(row: PairRow) -> tuple[int, int, int, str]:
    return (_STATE_RANK.get(PairState(row.state), 5), -row.open_escalations, -row.quiet_days,
            row.pair_id)


def visible(state: ProgramState, pair_ids: Collection[str] | None) -> list[PairRecord]:
    """The pairs a person may see (None: all)."""
    return [rec for pid, rec in state.pairs.items() if pair_ids is None or pid in pair_ids]


def overview(state: ProgramState, pair_ids: Collection[str] | None, *, query: str = "",
             page: int = 1, per_page: int = PER_PAGE) -> Overview:
    """The dashboard: matching pairs most urgent first, one page of them, open escalations."""
    open_by_pair = Counter(e.pair_id for e in state.open_escalations())
    rows = [_row(state, rec, open_by_pair[rec.pair_id]) for rec in visible(state, pair_ids)]
    counts = {"pairs": len(rows), **Counter(r.state for r in rows)}
    if query.strip():
        rows = [r for r in rows if r.matches(query)]
    rows.sort(key=_urgency)
    pages = max(1, -(-len(rows) // per_page))
    page = min(max(1, page), pages)
    escalations = [e for e in state.open_escalations()
                   if pair_ids is None or e.pair_id in pair_ids]
    failed = sorted((e for e in state.outbox if e.status == OutboxStatus.FAILED),
                    key=lambda e: (e.due_at, e.key)) if pair_ids is None else []
    return Overview(rows[(page - 1) * per_page: page * per_page], len(rows), page, pages,
                    counts, sorted(escalations, key=lambda e: e.opened_at),
                    list(state.quarantined) if pair_ids is None else [], failed)


@dataclass
class PairHistoryView:
    row: PairRow
    record: PairRecord
    outbox: list[OutboxEntry]
    events: list[Event]
    goals: list[dict[str, Any]]
    ratings: list[Event]
    escalations: list[Escalation]


def _goals(events: list[Event]) -> list[dict[str, Any]]:
    """Goals in the order set, each reached or not, as `mailflow.domain.ledger` reads them
    (DONE names a goal; UNDO withdraws a goal or a DONE)."""
    set_on = {name: e.time for name, e in in_force_named(events) if e.type == EventType.GOAL}
    return [{"number": g.number, "text": g.text, "set_on": set_on.get(g.ref),
             "reached": g.reached} for g in goals(events)]


def pair_history(state: ProgramState, pair_id: str, *, show_notes: bool) -> PairHistoryView:
    """Everything about one pair; MET notes only for those allowed to read them."""
    rec = state.pairs[pair_id]
    events = list(state.events_by_pair.get(pair_id, []))
    if not show_notes:
        events = [replace(e, text="") if e.type in (EventType.MET, EventType.NOT_MET) else e
                  for e in events]
    open_count = len(state.open_escalations(pair_id))
    return PairHistoryView(
        _row(state, rec, open_count), rec,
        sorted((e for e in state.outbox if e.pair_id == pair_id),
               key=lambda e: (e.due_at, e.key)),
        events, _goals(events), [e for e in in_force(events) if e.type == EventType.RATING],
        [e for e in state.escalations if e.pair_id == pair_id],
    )
