"""Domain objects <-> store records.

The services talk to a `Repository`; it turns pairs, outbox entries, events
and escalations into plain records for whatever `RecordStore` holds them.
It is also the one write path for a pass's view of the program: every record
it stores is handed to the views that follow it (`Repository.follow`).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Protocol

from mailflow.domain.model import (
    Escalation,
    EscalationReason,
    Event,
    EventType,
    Kind,
    OutboxEntry,
    OutboxStatus,
    Pair,
    PairState,
    Person,
    Role,
)
from mailflow.ports import Record, RecordStore, Sync

# --- records ----------------------------------------------------------------


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class PairRecord:
    """A roster pair plus what the program has made of it."""

    pair: Pair
    state: PairState = PairState.ACTIVE
    state_since: datetime | None = None
    in_roster: bool = True
    first_seen: datetime | None = None  # first imported (None: stored before this was kept)

    @property
    def pair_id(self) -> str:
        return self.pair.pair_id


def _person_record(person: Person) -> list[Any]:
    fields: list[Any] = [person.name, person.email, person.timezone]
    if person.other_emails:
        fields.append(list(person.other_emails))
    return fields


def pair_to_record(rec: PairRecord) -> Record:
    p = rec.pair
    return {
        "id": p.pair_id,
        "mentor": _person_record(p.mentor),
        "mentee": _person_record(p.mentee),
        "liaison": _person_record(p.liaison),
        "start": _iso(p.start),
        "state": str(rec.state),
        "state_since": _iso(rec.state_since),
        "in_roster": rec.in_roster,
        "first_seen": _iso(rec.first_seen),
    }


def pair_from_record(r: Record) -> PairRecord:
    def person(role: Role) -> Person:
        name, email, tz, *others = r[str(role)]
        return Person(name, email, role, tz, tuple(others[0]) if others else ())

    pair = Pair(r["id"], person(Role.MENTOR), person(Role.MENTEE), person(Role.LIAISON),
                _d(r["start"]))
    return PairRecord(pair, PairState(r["state"]), _dt(r["state_since"]), r["in_roster"],
                      _dt(r.get("first_seen")))


def outbox_to_record(e: OutboxEntry) -> Record:
    rec = e.export()
    del rec["error"]  # stored as last_error
    rec.update(id=e.key, period=e.period, last_error=e.last_error,
               next_attempt_at=_iso(e.next_attempt_at), context=e.context)
    return rec


def outbox_from_record(r: Record) -> OutboxEntry:
    return OutboxEntry(
        key=r["key"], pair_id=r["pair_id"], person=r["person"], role=r["role"],
        kind=Kind(r["kind"]), period=r["period"], due_at=datetime.fromisoformat(r["due_at"]),
        message_id=r["message_id"], status=OutboxStatus(r["status"]), sent_at=_dt(r["sent_at"]),
        attempts=r["attempts"], last_error=r["last_error"],
        next_attempt_at=_dt(r["next_attempt_at"]), context=r.get("context") or {},
    )


def event_to_record(event_id: str, e: Event) -> Record:
    record = {"id": event_id, **e.export()}
    if not e.value:
        del record["value"]  # most events have none: their records stay as they were
    if e.ref:
        record["ref"] = e.ref
    return record


def event_from_record(r: Record) -> Event:
    return Event(datetime.fromisoformat(r["time"]), r["pair_id"], r["person"], r["role"],
                 EventType(r["type"]), _d(r["date"]), r["text"], r["message_id"],
                 r.get("value", ""), r.get("ref", ""))


def escalation_to_record(e: Escalation) -> Record:
    return e.export()


def escalation_from_record(r: Record) -> Escalation:
    return Escalation(r["id"], r["pair_id"], r["liaison"], EscalationReason(r["reason"]),
                      r["text"], datetime.fromisoformat(r["opened_at"]), _dt(r["resolved_at"]))


# --- the repository -----------------------------------------------------------


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    joining: list[tuple[str, int]] = field(default_factory=list)  # (pair_id, month it joins in)


class Follower(Protocol):
    """A view of the program kept current by the repository (services/state.py)."""

    def stored_outbox(self, entry: OutboxEntry) -> None: ...

    def stored_escalation(self, esc: Escalation) -> None: ...

    def stored_event(self, event: Event) -> None: ...

    def stored_pair(self, rec: PairRecord) -> None: ...

    def stored_processed(self, record: Record) -> None: ...


class Repository:
    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self._by_message_id: dict[str, str] | None = None
        self._followers: weakref.WeakSet[Follower] = weakref.WeakSet()

    def follow(self, follower: Follower) -> None:
        """Hand ``follower`` every record stored from now on, for as long as it lives:
        it sees what the store's own reads see (a transaction's puts at once)."""
        self._followers.add(follower)

    @contextmanager
    def transaction(self, *, sync: Sync = "now") -> Iterator[None]:
        """One atomic commit; ``sync="background"`` returns before its fsync (see
        adapters/store.py): for the record of an email just sent."""
        with self.store.transaction(sync=sync):
            yield

    def close(self) -> None:
        self.store.close()

    # pairs
    def pairs(self) -> dict[str, PairRecord]:
        return {k: pair_from_record(r) for k, r in self.store.all("pairs").items()}

    def pair(self, pair_id: str) -> PairRecord | None:
        r = self.store.get("pairs", pair_id)
        return pair_from_record(r) if r else None

    def put_pair(self, rec: PairRecord) -> None:
        self.store.put("pairs", pair_to_record(rec))
        for follower in self._followers:
            follower.stored_pair(rec)

    def import_pairs(self, pairs: Iterable[Pair], now: datetime | None = None, *,
                     dry_run: bool = False) -> ImportReport:
        """Add new pairs and update existing ones by pair_id; never delete.
        A new pair records `now` as when mailflow first knew it (joining mid-term).
        ``dry_run``: say what would change, change nothing."""
        report = ImportReport()
        existing = self.pairs()
        seen: set[str] = set()
        changes: list[PairRecord] = []
        for pair in pairs:
            seen.add(pair.pair_id)
            old = existing.get(pair.pair_id)
            if old is None:
                changes.append(PairRecord(pair, first_seen=now))
                report.added.append(pair.pair_id)
            elif old.pair != pair or not old.in_roster:
                changes.append(replace(old, pair=pair, in_roster=True))
                report.updated.append(pair.pair_id)
            else:
                report.unchanged.append(pair.pair_id)
        for pair_id, old in existing.items():
            if pair_id not in seen:
                report.missing.append(pair_id)
                if old.in_roster:
                    changes.append(replace(old, in_roster=False))
        if not dry_run:
            with self.store.transaction():
                for rec in changes:
                    self.put_pair(rec)
        return report

    # outbox
    def outbox_keys(self) -> set[str]:
        return set(self.store.all("outbox"))

    def outbox_entry(self, key: str) -> OutboxEntry | None:
        r = self.store.get("outbox", key)
        return outbox_from_record(r) if r else None

    def outbox(self) -> list[OutboxEntry]:
        return [outbox_from_record(r) for r in self.store.all("outbox").values()]

    def outbox_with_status(self, *statuses: OutboxStatus) -> list[OutboxEntry]:
        wanted = {str(s) for s in statuses}
        return [outbox_from_record(r) for r in self.store.all("outbox").values()
                if r["status"] in wanted]

    def put_outbox(self, entry: OutboxEntry) -> None:
        self.store.put("outbox", outbox_to_record(entry))
        if self._by_message_id is not None:
            self._by_message_id[entry.message_id] = entry.key
        for follower in self._followers:
            follower.stored_outbox(entry)

    def outbox_by_message_id(self, message_id: str) -> OutboxEntry | None:
        if self._by_message_id is None:
            self._by_message_id = {
                r["message_id"]: k for k, r in self.store.all("outbox").items()
            }
        key = self._by_message_id.get(message_id)
        return self.outbox_entry(key) if key else None

    # events
    def add_event(self, event_id: str, event: Event) -> None:
        self.store.put("events", event_to_record(event_id, event))
        for follower in self._followers:
            follower.stored_event(event)

    def events(self) -> list[Event]:
        return sorted((event_from_record(r) for r in self.store.all("events").values()),
                      key=lambda e: e.time)

    # escalations
    def escalations(self) -> list[Escalation]:
        return sorted((escalation_from_record(r) for r in self.store.all("escalations").values()),
                      key=lambda e: e.opened_at)

    def escalation(self, escalation_id: str) -> Escalation | None:
        r = self.store.get("escalations", escalation_id)
        return escalation_from_record(r) if r else None

    def put_escalation(self, e: Escalation) -> None:
        self.store.put("escalations", escalation_to_record(e))
        for follower in self._followers:
            follower.stored_escalation(e)

    # processed incoming messages (dedup by Message-ID)
    def processed(self, message_id: str) -> Record | None:
        return self.store.get("processed", message_id)

    def mark_processed(self, message_id: str, outcome: str, at: datetime,
                       **details: Any) -> None:
        record = {"id": message_id, "outcome": outcome, "at": at.isoformat(), **details}
        self.store.put("processed", record)
        for follower in self._followers:
            follower.stored_processed(record)

    def processed_records(self) -> list[Record]:
        return list(self.store.all("processed").values())

    # small named values: cursors, health
    def meta(self, name: str) -> Record:
        return dict(self.store.get("meta", name) or {})

    def set_meta(self, name: str, **values: Any) -> None:
        self.store.put("meta", {**self.meta(name), **values, "id": name})

    def remembered_addresses(self) -> dict[str, str]:
        """Other addresses learnt from `quarantine accept --remember`: address -> person."""
        return {k: v for k, v in self.meta("other_addresses").items() if k != "id"}

    def remember_address(self, address: str, person: str) -> None:
        self.set_meta("other_addresses", **{address.lower(): person.lower()})

    def bouncing(self) -> dict[str, str]:
        """Addresses that hard-bounced, with when: mail to them is held."""
        return {k: v for k, v in self.meta("bouncing").items() if k != "id"}

    def clear_bouncing(self, addresses: set[str]) -> None:
        kept = {k: v for k, v in self.bouncing().items() if k not in addresses}
        self.store.put("meta", {**kept, "id": "bouncing"})
