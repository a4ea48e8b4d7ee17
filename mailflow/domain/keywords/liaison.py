"""The liaison's keyword: RESOLVED (END, confirming an end request, is in `course`)."""

from __future__ import annotations

from mailflow.domain.effects import Decision
from mailflow.domain.keywords.base import Command, Keyword, register
from mailflow.domain.model import EscalationReason, EventType, PairState, Role


@register
class Resolved(Keyword):
    name, words = "resolved", ("RESOLVED",)
    help = "close this escalation; add a short note for the committee if you like"

    @classmethod
    def shown_in(cls, kind: str, role: str, *, term_ended: bool) -> bool:
        return role == Role.LIAISON and kind == "escalation"

    def by_liaison(self, d: Decision, cmd: Command) -> None:
        target = d.escalations_answered()
        if not target:
            d.ignore(
                "RESOLVED: reply to the escalation email itself, so mailflow knows which one "
                f"({len(d.open)} open for pair {d.reply.pair.pair_id})"
            )
            return
        d.event(EventType.RESOLVED, cmd.text.strip())
        d.close(target)
        for esc in target:
            d.record(f"Escalation {esc.id} ({esc.reason}) resolved")
        if any(e.reason == EscalationReason.END_REQUEST for e in target):
            d.set_state(PairState.ACTIVE)
