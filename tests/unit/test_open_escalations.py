"""Inbound's index of open escalations gives what ProgramState.open_escalations gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from mailflow.domain.model import Escalation, EscalationReason, Program
from mailflow.services.inbound import OpenEscalations
from mailflow.services.state import ProgramState

T = datetime(2027, 1, 4, 9, 30, tzinfo=UTC)


def _esc(n: int, pair_id: str, *, resolved: bool = False) -> Escalation:
    return Escalation(f"{pair_id}-help-{n}", pair_id, "l1@lib.example", EscalationReason.HELP,
                      f"text {n}", T, T if resolved else None)


def _state(escalations: list[Escalation]) -> ProgramState:
    return ProgramState(cast(Program, None), T, {}, {}, escalations, {}, [], [])


def _agrees(index: OpenEscalations, state: ProgramState) -> None:
    for pair_id in ("A", "B", "C"):
        assert index.of(pair_id) == state.open_escalations(pair_id)


def test_the_index_follows_every_change_to_the_list() -> None:
    state = _state([_esc(1, "A"), _esc(2, "B", resolved=True), _esc(3, "A"), _esc(4, "B")])
    index = OpenEscalations(state)
    _agrees(index, state)
    index.append(_esc(5, "C"))  # through the index
    index.append(_esc(6, "A", resolved=True))
    _agrees(index, state)
    state.escalations.append(_esc(7, "B"))  # behind its back: an append elsewhere
    _agrees(index, state)
    resolved = _esc(1, "A", resolved=True)  # what Inbound does when one is resolved
    state.escalations = [e for e in state.escalations if e.id != resolved.id]
    state.escalations.append(resolved)
    _agrees(index, state)
    index.append(_esc(8, "A"))
    _agrees(index, state)


def test_what_it_returns_is_a_copy() -> None:
    state = _state([_esc(1, "A")])
    index = OpenEscalations(state)
    index.of("A").clear()
    assert index.of("A") == state.open_escalations("A") != []
