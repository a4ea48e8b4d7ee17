"""What a reply's keywords do: events, escalations, state changes, emails.

Pure: the caller gives the reply, the pair, who sent it, what it answers and
the open escalations; `decide` returns everything to store and send. The
sender's acknowledgement lists what was recorded and what was ignored, and
why, like Mailman's command replies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from mailflow.domain.keys import outbox_key
from mailflow.domain.model import (
    Escalation,
    EscalationReason,
    Event,
    EventType,
    Kind,
    OutboxEntry,
    Pair,
    PairState,
    Person,
    Role,
)

ACK_INTERVAL = timedelta(hours=1)


class KeywordCommand(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def date(self) -> date | None: ...


@dataclass(frozen=True)
class Reply:
    """A human reply already matched to its pair and sender."""

    pair: Pair
    person: Person
    message_id: str
    received_at: datetime
    answered: OutboxEntry | None
    commands: Sequence[KeywordCommand]
    free_text: str
    term_ended: bool
    last_ack_at: datetime | None = None


@dataclass(frozen=True)
class EmailToSend:
    """A reply-triggered email; the service turns it into an outbox entry."""

    kind: Kind
    person: Person
    period: str
    context: dict[str, Any] = field(default_factory=dict)
    in_reply_to: str = ""

    def key(self, pair_id: str) -> str:
        return outbox_key(pair_id, str(self.kind), self.period, self.person.email)


@dataclass
class Outcome:
    events: list[Event] = field(default_factory=list)
    opened: list[Escalation] = field(default_factory=list)
    resolved: list[Escalation] = field(default_factory=list)
    new_state: PairState | None = None
    emails: list[EmailToSend] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def escalation_id(pair_id: str, reason: EscalationReason, source: str) -> str:
    return f"{pair_id}-{reason}-{short_hash(source)}"


class _Decision:
    def __init__(self, reply: Reply, open_escalations: Sequence[Escalation]) -> None:
        self.reply = reply
        self.open = list(open_escalations)
        self.out = Outcome()

    def event(self, kind: EventType, text: str = "", day: date | None = None) -> None:
        r = self.reply
        self.out.events.append(Event(r.received_at, r.pair.pair_id, r.person.email,
                                     str(r.person.role), kind, day, text, r.message_id))

    def escalate(self, reason: EscalationReason, text: str) -> None:
        r = self.reply
        esc = Escalation(escalation_id(r.pair.pair_id, reason, r.message_id + text),
                         r.pair.pair_id, r.pair.liaison.email, reason, text, r.received_at)
        self.out.opened.append(esc)
        self.out.emails.append(EmailToSend(
            Kind.ESCALATION, r.pair.liaison, esc.id,
            {"escalation_id": esc.id, "reporter": r.person.email},
        ))


def _participant(d: _Decision, cmd: KeywordCommand) -> None:
    r, text = d.reply, cmd.text.strip()
    name = cmd.name
    if name == "met":
        d.event(EventType.MET, text, cmd.date)
        d.out.recorded.append(f"Meeting on {cmd.date or r.received_at.date()}")
    elif name == "not_met":
        d.event(EventType.NOT_MET, text)
        d.out.recorded.append("No meeting this month")
    elif name == "goal":
        if not text:
            d.out.ignored.append("GOAL without a goal: write the goal after the word GOAL")
            return
        d.event(EventType.GOAL, text)
        d.out.recorded.append(f"Goal: {text}")
    elif name == "help":
        d.event(EventType.HELP, text)
        d.escalate(EscalationReason.HELP, text)
        d.out.recorded.append(f"Your request for help was sent to {r.pair.liaison.name}")
    elif name == "pause":
        d.event(EventType.PAUSE, text, cmd.date)
        d.out.recorded.append(f"Paused until {cmd.date}" if cmd.date else "Paused for 30 days")
    elif name == "resume":
        d.event(EventType.RESUME, text)
        d.out.recorded.append("Pause ended: program emails resume")
    elif name == "end":
        d.event(EventType.END_REQUEST, text)
        d.escalate(EscalationReason.END_REQUEST, text)
        d.out.new_state = PairState.ENDING
        d.out.recorded.append(
            f"Your request to end the match was sent to {r.pair.liaison.name}, who will be "
            "in touch"
        )
    elif name == "letter":
        _letter(d)
    else:
        d.out.ignored.append(f"{name.upper()} is for liaisons replying to an escalation")


def _letter(d: _Decision) -> None:
    r = d.reply
    if r.person.role != Role.MENTOR:
        d.out.ignored.append("LETTER: recognition letters are for mentors")
    elif not r.term_ended:
        d.out.ignored.append("LETTER: the letter can be requested once the term has ended")
    else:
        d.event(EventType.LETTER_REQUEST)
        d.out.emails.append(EmailToSend(Kind.LETTER, r.person, "term"))
        d.out.recorded.append("Your recognition letter is on its way")


def _liaison(d: _Decision, cmd: KeywordCommand) -> None:
    r = d.reply
    if cmd.name == "end" and any(e.reason == EscalationReason.END_REQUEST for e in d.open):
        d.out.new_state = PairState.ENDED
        d.event(EventType.RESOLVED, cmd.text.strip() or "end of the match confirmed")
        _close(d, [e for e in d.open if e.reason == EscalationReason.END_REQUEST])
        d.out.recorded.append(f"The end of pair {r.pair.pair_id} is confirmed")
        return
    if cmd.name != "resolved":
        d.out.ignored.append(
            f"{cmd.name.upper()}: liaisons reply RESOLVED to an escalation (or END to confirm "
            "an end request)"
        )
        return
    target = _escalation_answered(d)
    if not target:
        d.out.ignored.append(
            "RESOLVED: reply to the escalation email itself, so mailflow knows which one "
            f"({len(d.open)} open for pair {r.pair.pair_id})"
        )
        return
    d.event(EventType.RESOLVED, cmd.text.strip())
    _close(d, target)
    for esc in target:
        d.out.recorded.append(f"Escalation {esc.id} ({esc.reason}) resolved")
    if any(e.reason == EscalationReason.END_REQUEST for e in target):
        d.out.new_state = PairState.ACTIVE


def _escalation_answered(d: _Decision) -> list[Escalation]:
    answered = d.reply.answered
    wanted = answered.context.get("escalation_id") if answered else None
    if wanted:
        return [e for e in d.open if e.id == wanted]
    return d.open if len(d.open) == 1 else []


def _close(d: _Decision, escalations: list[Escalation]) -> None:
    for esc in escalations:
        resolved = Escalation(esc.id, esc.pair_id, esc.liaison, esc.reason,
                              esc.text, esc.opened_at, d.reply.received_at)
        d.out.resolved.append(resolved)
        d.open.remove(esc)


def decide(reply: Reply, open_escalations: Sequence[Escalation]) -> Outcome:
    """Apply every keyword in the reply; a reply with none is kept as a note or feedback."""
    d = _Decision(reply, open_escalations)
    handle = _liaison if reply.person.role == Role.LIAISON else _participant
    for cmd in reply.commands:
        handle(d, cmd)
    if not reply.commands:
        answered_feedback = reply.answered is not None and reply.answered.kind == Kind.FEEDBACK
        kind = EventType.FEEDBACK if answered_feedback else EventType.NOTE
        d.event(kind, reply.free_text.strip())
        d.out.recorded.append(
            "Your feedback, for the committee" if answered_feedback else "Your note"
        )
    _acknowledge(d)
    return d.out


def _acknowledge(d: _Decision) -> None:
    r = d.reply
    if r.last_ack_at is not None and r.received_at - r.last_ack_at < ACK_INTERVAL:
        return  # at most one ack per sender per rolling hour: robots cannot loop
    d.out.emails.append(EmailToSend(
        Kind.ACK, r.person, short_hash(r.message_id),
        {"recorded": list(d.out.recorded), "ignored": list(d.out.ignored)},
        in_reply_to=r.message_id,
    ))
