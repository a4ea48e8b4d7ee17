"""UNDO: the sender withdraws the last thing they recorded, within a week.

What can be withdrawn is the sender's own MET, NOT MET, GOAL, DONE, RATING, PAUSE
or CONTACTED of the last 7 days, measured from the UNDO reply; the newest goes
first, and a second UNDO withdraws the one before. HELP and END reached the
liaison as an escalation: when one of them is the sender's last word, UNDO
withdraws nothing and says the liaison closes it. The withdrawal is an `UNDONE`
event naming the withdrawn one (`mailflow.domain.ledger.named`).
"""

from __future__ import annotations

from datetime import timedelta

from mailflow.domain.effects import Decision
from mailflow.domain.keywords.base import PARTICIPANT_ROLES, Command, ParticipantKeyword, register
from mailflow.domain.model import Event, EventType, Kind

UNDO_DAYS = 7
UNDOABLE = {
    EventType.MET: "MET", EventType.NOT_MET: "NOT MET", EventType.GOAL: "GOAL",
    EventType.GOAL_DONE: "DONE", EventType.RATING: "RATING", EventType.PAUSE: "PAUSE",
    EventType.CONTACTED: "CONTACTED",
}
CLOSED_BY_LIAISON = {EventType.HELP: "HELP", EventType.END_REQUEST: "END"}


@register
class Undo(ParticipantKeyword):
    name, words, takes_note = "undo", ("UNDO",), False
    help = (f"withdraw the last MET, NOT MET, GOAL, DONE, RATING, PAUSE or CONTACTED you sent "
            f"in the last {UNDO_DAYS} days")

    @classmethod
    def shown_in(cls, kind: str, role: str, *, term_ended: bool) -> bool:
        return role in PARTICIPANT_ROLES and kind == Kind.ACK

    def by_participant(self, d: Decision, cmd: Command) -> None:
        r = d.reply
        since = r.received_at - timedelta(days=UNDO_DAYS)
        mine = [(name, e) for name, e in d.events_in_force()
                if e.person == r.person.email and since <= e.time <= r.received_at
                and (e.type in UNDOABLE or e.type in CLOSED_BY_LIAISON)]
        if not mine:
            d.ignore(f"UNDO: there is nothing you recorded in the last {UNDO_DAYS} days to "
                     "withdraw")
            return
        name, last = mine[-1]
        if last.type in CLOSED_BY_LIAISON:
            d.ignore(f"UNDO: your {CLOSED_BY_LIAISON[last.type]} has reached "
                     f"{r.pair.liaison.name}, your liaison, who closes it; write to them if it "
                     "is no longer needed")
            return
        what = describe(last)
        d.event(EventType.UNDONE, what, value=str(last.type), ref=name)
        d.record(f"Withdrawn: {what}")


def describe(event: Event) -> str:
    """An event as the sender wrote it, for the ack: ``MET 2026-10-03``, ``RATING 4``..."""
    word = UNDOABLE.get(event.type, str(event.type))
    detail = {
        EventType.MET: str(event.date or ""),
        EventType.PAUSE: f"until {event.date}" if event.date else "",
        EventType.RATING: event.value,
        EventType.GOAL: event.text,
        EventType.GOAL_DONE: f"{event.value} ({event.text})" if event.value else event.text,
    }.get(event.type, "")
    line = f"{word} {detail}".strip()
    return line if len(line) <= 80 else line[:79] + "…"
