"""Closing an escalation from the web console or the command line.

The same record as a liaison's `RESOLVED` reply: the escalation gets its
`resolved_at`, a `resolved` event is kept for the pair (with an empty
`message_id`: no email carried it), a bounce's addresses are no longer held,
and a pair whose end request is withdrawn is active again.
"""

from __future__ import annotations

from dataclasses import replace

from mailflow.app import App
from mailflow.domain.effects import short_hash
from mailflow.domain.model import EscalationReason, Event, EventType, PairState
from mailflow.errors import MailflowError


class UnknownEscalation(MailflowError):
    """No such escalation (or it is not the person's to see)."""


def resolve_escalation(app: App, escalation_id: str, note: str, *, by: str,
                       role: str) -> None:
    now = app.clock.now()
    with app.repository() as repo:
        esc = repo.escalation(escalation_id)
        if esc is None:
            raise UnknownEscalation(f"no escalation {escalation_id!r}")
        if esc.resolved_at is not None:
            raise MailflowError(f"escalation {escalation_id} was resolved on "
                                f"{esc.resolved_at:%Y-%m-%d %H:%M}")
        rec = repo.pair(esc.pair_id)
        with repo.transaction():
            repo.put_escalation(replace(esc, resolved_at=now))
            repo.add_event(f"web-resolved-{short_hash(esc.id + now.isoformat())}", Event(
                now, esc.pair_id, by, role, EventType.RESOLVED, None, note.strip(), ""))
            if rec is not None and esc.reason == EscalationReason.BOUNCE:
                repo.clear_bouncing({p.email for p in rec.pair.participants})
            if rec is not None and esc.reason == EscalationReason.END_REQUEST \
                    and rec.state == PairState.ENDING:
                repo.put_pair(replace(rec, state=PairState.ACTIVE, state_since=now))
