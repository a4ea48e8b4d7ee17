"""A ProgramState follows what its repository stores: one write path, no stale copies.

(It replaces Inbound's own index of open escalations, which guessed staleness from a
list's identity and length, and the de-duplication of older outbox copies in
`Dispatcher.sendable`.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from mailflow.adapters.store import TinyDBStore
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
    Program,
    Role,
)
from mailflow.repository import PairRecord, Repository
from mailflow.services.state import ProgramState

T = datetime(2027, 1, 4, 9, 30, tzinfo=UTC)
PROGRAM = Program(name="Test", start=date(2026, 9, 1), months=9, timezone="UTC",
                  send_time=time(9, 0), coordinators=("c@lib.example",))


def _pair(pair_id: str) -> Pair:
    return Pair(pair_id, Person(f"M {pair_id}", f"m-{pair_id}@lib.example".lower(), Role.MENTOR),
                Person(f"E {pair_id}", f"e-{pair_id}@lib.example".lower(), Role.MENTEE),
                Person("Lia", "l1@lib.example", Role.LIAISON))


def _esc(n: int, pair_id: str, *, resolved: bool = False) -> Escalation:
    return Escalation(f"{pair_id}-help-{n}", pair_id, "l1@lib.example", EscalationReason.HELP,
                      f"text {n}", T, T if resolved else None)


def _entry(key: str, **changes: object) -> OutboxEntry:
    entry = OutboxEntry(key, "A", "m-a@lib.example", "mentor", Kind.TOPIC, "m2", T,
                        f"<{key}@lib.example>")
    return replace(entry, **changes)  # type: ignore[arg-type]


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    repository = Repository(TinyDBStore(tmp_path / "mailflow.json"))
    repository.import_pairs([_pair("A"), _pair("B"), _pair("C")])
    yield repository
    repository.close()


def _agrees(state: ProgramState, repo: Repository) -> None:
    """The state's view equals a fresh read of the store."""
    fresh = ProgramState.load(repo, PROGRAM, T)
    for pair_id in ("A", "B", "C"):
        assert state.open_escalations(pair_id) == fresh.open_escalations(pair_id)
        assert state.histories[pair_id] == fresh.histories[pair_id]
        assert state.events_by_pair.get(pair_id, []) == fresh.events_by_pair.get(pair_id, [])
    assert state.open_escalations() == fresh.open_escalations()
    assert sorted(state.escalations, key=lambda e: e.id) == \
        sorted(fresh.escalations, key=lambda e: e.id)
    assert sorted(state.outbox, key=lambda e: e.key) == sorted(fresh.outbox, key=lambda e: e.key)
    assert state.pairs == fresh.pairs
    assert list(state.quarantined) == list(fresh.quarantined)


def test_open_escalations_follow_every_write(repo: Repository) -> None:
    for esc in (_esc(1, "A"), _esc(2, "B", resolved=True), _esc(3, "A"), _esc(4, "B")):
        repo.put_escalation(esc)
    state = ProgramState.load(repo, PROGRAM, T)
    assert [e.id for e in state.open_escalations("A")] == ["A-help-1", "A-help-3"]
    with repo.transaction():
        repo.put_escalation(_esc(5, "C"))
        repo.put_escalation(_esc(6, "A", resolved=True))
    _agrees(state, repo)
    repo.put_escalation(_esc(1, "A", resolved=True))  # resolved: no longer open
    assert [e.id for e in state.open_escalations("A")] == ["A-help-3"]
    assert state.escalation("A-help-1") == _esc(1, "A", resolved=True)
    assert len(state.escalations) == 6  # one per id, as last stored
    _agrees(state, repo)


def test_what_it_returns_is_a_copy(repo: Repository) -> None:
    repo.put_escalation(_esc(1, "A"))
    state = ProgramState.load(repo, PROGRAM, T)
    state.open_escalations("A").clear()
    assert state.open_escalations("A") == [_esc(1, "A")]


def test_the_outbox_holds_one_entry_per_key_as_last_stored(repo: Repository) -> None:
    repo.put_outbox(_entry("A/topic/m2/x"))
    state = ProgramState.load(repo, PROGRAM, T)
    repo.put_outbox(_entry("A/topic/m2/x", attempts=1))
    repo.put_outbox(_entry("A/topic/m2/x", status=OutboxStatus.SENT, sent_at=T, attempts=1))
    repo.put_outbox(_entry("A/topic/m3/x", period="m3"))
    assert {e.key: e.status for e in state.outbox} == {
        "A/topic/m2/x": OutboxStatus.SENT, "A/topic/m3/x": OutboxStatus.PENDING}
    _agrees(state, repo)


def test_events_pairs_and_quarantine_follow_and_histories_are_folded_again(
        repo: Repository) -> None:
    state = ProgramState.load(repo, PROGRAM, T)
    assert state.histories["A"].met_dates == ()
    repo.add_event("m1#met#0", Event(T, "A", "m-a@lib.example", "mentor", EventType.MET,
                                     date(2027, 1, 2), "", "<m1@x>"))
    assert state.histories["A"].met_dates == (date(2027, 1, 2),)
    ended = replace(state.pairs["B"], state=PairState.ENDED, state_since=T)
    repo.put_pair(ended)
    assert state.pairs["B"] == ended
    assert state.term_ended(ended)
    repo.import_pairs([_pair("A"), _pair("B"), _pair("C"), _pair("D")])
    assert state.pairs["D"] == PairRecord(_pair("D"))
    assert "D" in state.histories
    repo.mark_processed("<q@x>", "quarantined", T, reason="unknown sender")
    assert [r["id"] for r in state.quarantined] == ["<q@x>"]
    repo.mark_processed("<q@x>", "processed", T)  # accepted after all
    assert list(state.quarantined) == []
    _agrees(state, repo)


def test_a_state_nobody_holds_is_not_kept_alive(repo: Repository) -> None:
    import gc
    import weakref

    state = ProgramState.load(repo, PROGRAM, T)
    gone = weakref.ref(state)
    del state
    gc.collect()
    assert gone() is None
    repo.put_escalation(_esc(1, "A"))  # no follower left to tell
