"""What each liaison, and the coordinators, must hear in a digest.

Most urgent first: open escalations, then low ratings, then bounces, then the
longest quiet. A rating of 1 or 2 recorded since the reader's last digest is
listed (its words only when notes are shared). MET notes appear only when
`[privacy].share_notes_with_liaison` is true.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from mailflow.domain.ledger import goals, in_force, low_ratings
from mailflow.domain.matching import PeopleIndex, likely_person
from mailflow.domain.model import Event, EventType, Kind, OutboxEntry, OutboxStatus, Person, Role
from mailflow.render.context import Context, person_context
from mailflow.repository import PairRecord
from mailflow.services.state import ProgramState
from mailflow.services.status import pair_state, quiet_days


def _row(state: ProgramState, rec: PairRecord, since: datetime | None = None) -> Context:
    pair, today = rec.pair, state.today
    history = state.histories[rec.pair_id]
    events = in_force(state.events_by_pair.get(rec.pair_id, []))
    paused = []
    for person in pair.participants:
        until = history.paused_until(person.email, today)
        if until:
            paused.append({"name": person.name, "until": until})
    notes = [e.text for e in events if e.type == EventType.MET and e.text] \
        if state.share_notes_with_liaison else []
    recorded = goals(events)
    return {
        "pair_id": rec.pair_id,
        "mentor": person_context(pair.mentor),
        "mentee": person_context(pair.mentee),
        "liaison": person_context(pair.liaison),
        "state": str(pair_state(rec, history, state.program, today)),
        "last_met": state.last_met(rec.pair_id),
        "quiet_days": quiet_days(rec, history, state.program, today),
        "open_escalations": [
            {"reason": str(e.reason), "text": e.text, "opened_at": e.opened_at}
            for e in state.open_escalations(rec.pair_id)
        ],
        "bounces": sorted({e.person for e in events if e.type == EventType.BOUNCE}),
        "paused": paused,
        "goals_count": len(recorded),
        "goals_reached": sum(1 for g in recorded if g.reached),
        "low_ratings": [_rating(e, pair.person(e.person), state.share_notes_with_liaison)
                        for e in low_ratings(events, since)],
        "notes": notes,
    }


def _rating(event: Event, who: Person | None, share_text: bool) -> Context:
    return {"value": int(event.value), "name": who.name if who else event.person,
            "role": event.role, "at": event.time, "text": event.text if share_text else ""}


def _urgency(row: Context) -> tuple[int, int, int, int, str]:
    return (-len(row["open_escalations"]), -len(row["low_ratings"]), -len(row["bounces"]),
            -row["quiet_days"], row["pair_id"])


def digest_rows(state: ProgramState, liaison: str | None,
                since: datetime | None = None) -> list[Context]:
    """Rows for one liaison's pairs (or every pair when `liaison` is None), most urgent first;
    low ratings are those recorded after ``since`` (the reader's last digest)."""
    rows = [
        _row(state, rec, since) for rec in state.pairs.values()
        if rec.in_roster and (liaison is None or rec.pair.liaison.email == liaison)
    ]
    return sorted(rows, key=_urgency)


def last_digest_at(state: ProgramState, entry: OutboxEntry) -> datetime | None:
    """When the reader of digest ``entry`` was last sent one (None: never)."""
    sent = [e.sent_at or e.due_at for e in state.outbox
            if e.kind == Kind.DIGEST and e.person == entry.person and e.key != entry.key
            and e.status == OutboxStatus.SENT and e.due_at < entry.due_at]
    return max(sent, default=None)


def _failure(entry: OutboxEntry) -> Context:
    return {"key": entry.key, "person": entry.person, "kind": str(entry.kind),
            "error": entry.last_error}


def _likely(record: dict[str, Any], people: PeopleIndex) -> Context | None:
    """The roster person a quarantined message most likely comes from (another address)."""
    sender = str(record.get("from", ""))
    person = likely_person(sender, str(record.get("from_name", "")), people.people()) \
        if sender else None
    if person is None:
        return None
    return {"name": person.name, "email": person.email,
            "pair_ids": [p.pair_id for p in people.pairs_of(person.email)]}


def digest_context(entry: OutboxEntry, state: ProgramState, who: Person) -> dict[str, Any]:
    coordinator = who.role == Role.COORDINATOR
    rows = digest_rows(state, None if coordinator else who.email, last_digest_at(state, entry))
    context: dict[str, Any] = {
        "is_coordinator": coordinator, "rows": rows, "failures": [], "quarantined": [],
        "counts": {},
    }
    if coordinator:
        context["failures"] = [_failure(e) for e in state.outbox
                               if e.status == OutboxStatus.FAILED]
        people = PeopleIndex(r.pair for r in state.pairs.values() if r.in_roster)
        context["quarantined"] = [
            {"from": r.get("from", ""), "subject": r.get("subject", ""),
             "reason": r.get("reason", ""), "received_at": r.get("at"),
             "message_id": r.get("id", ""), "likely": _likely(r, people)}
            for r in state.quarantined
        ]
        context["counts"] = dict(Counter(row["state"] for row in rows))
    return context
