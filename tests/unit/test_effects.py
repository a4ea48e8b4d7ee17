"""What a reply's keywords do (pure): events, escalations, acks; table-driven where it can be."""

from __future__ import annotations

from datetime import UTC, datetime

from mailflow.domain.effects import Outcome, Reply, decide
from mailflow.domain.keywords import parse_keywords
from mailflow.domain.model import (
    Escalation,
    EscalationReason,
    Event,
    OutboxEntry,
    Pair,
    PairState,
    Person,
    Role,
)

T = datetime(2026, 10, 10, 9, 0, tzinfo=UTC)
MENTOR = Person("Ana Ruiz", "ana@lib.example", Role.MENTOR)
MENTEE = Person("Ben Ode", "ben@lib.example", Role.MENTEE)
LIAISON = Person("Lia Sen", "lia@lib.example", Role.LIAISON)
PAIR = Pair("P1", MENTOR, MENTEE, LIAISON)


def reply(who: Person, text: str, *, at: datetime = T, history: tuple[Event, ...] = (),
          answered: OutboxEntry | None = None, open_: tuple[Escalation, ...] = (),
          term_ended: bool = False) -> Outcome:
    commands = parse_keywords(text, reference=at.date()).commands
    message = f"<{text[:20]}-{at.isoformat()}@x>"
    return decide(Reply(PAIR, who, message, at, answered, commands, text, term_ended),
                  list(open_))


def test_resolved_on_the_only_open_escalation_says_so_and_reopens_an_ending_pair() -> None:
    request = Escalation("P1-end-1", "P1", LIAISON.email, EscalationReason.END_REQUEST, "x", T)
    out = reply(LIAISON, "RESOLVED we talked, they carry on", open_=(request,))
    assert [e.id for e in out.resolved] == ["P1-end-1"]
    assert out.recorded == ["Escalation P1-end-1 (end_request) resolved"]
    assert out.new_state == PairState.ACTIVE
