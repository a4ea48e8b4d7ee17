"""What a reply's keywords do: events, escalations, state changes, emails.

Pure: the caller gives the reply, the pair, who sent it, what it answers and
the open escalations; `decide` returns everything to store and send. Each
keyword's own effect lives in its class (`mailflow.domain.keywords`), which
records it on the `Decision` given to it; this module holds what they share:
the reply, the outcome, the note kept for a reply without keywords, and the
sender's acknowledgement, which lists what was recorded and what was ignored,
and why, like Mailman's command replies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from mailflow.domain.keys import outbox_key
from mailflow.domain.ledger import in_force_named
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
)

ACK_INTERVAL = timedelta(hours=1)


class KeywordCommand(Protocol):
    """A keyword read from a reply (`mailflow.domain.keywords.Command`)."""

    @property
    def name(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def date(self) -> date | None: ...

    @property
    def line(self) -> str: ...  # the line it was read from, as written

    def apply(self, decision: Decision) -> None:
        """Record this keyword's effect on ``decision``."""


@dataclass(frozen=True)
class Reply:
    """A human reply already matched to its pair and sender."""

    pair: Pair
    person: Person
    message_id: str
    received_at: datetime
    answered: OutboxEntry | None
    commands: Sequence[KeywordCommand]
    free_text: str  # the lines outside keywords (the whole new text when there are none)
    term_ended: bool
    last_ack_at: datetime | None = None
    history: Sequence[Event] = ()  # the pair's events recorded before this reply, in order
    reply_day: date | None = None  # the reply's own date (its Date header), program's zone
    pair_start: date | None = None  # the day the pair's mentorship began

    @property
    def day(self) -> date:
        return self.reply_day or self.received_at.date()


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


class Decision:
    """The reply being decided, the pair's open escalations, and the outcome so far.

    Keywords read ``reply`` and ``open`` and record their effect through the methods.
    """

    def __init__(self, reply: Reply, open_escalations: Sequence[Escalation]) -> None:
        self.reply = reply
        self.open = list(open_escalations)
        self.out = Outcome()

    def event(self, kind: EventType, text: str = "", day: date | None = None, *,
              value: str = "", ref: str = "") -> Event:
        r = self.reply
        event = Event(r.received_at, r.pair.pair_id, r.person.email, str(r.person.role), kind,
                      day, text, r.message_id, value, ref)
        self.out.events.append(event)
        return event

    def events_in_force(self) -> list[tuple[str, Event]]:
        """The pair's events so far, this reply's included, without withdrawn ones, each
        with the name a later event refers to it by (`mailflow.domain.ledger.named`)."""
        return in_force_named([*self.reply.history, *self.out.events])

    def record(self, line: str) -> None:
        """Say in the acknowledgement what was recorded."""
        self.out.recorded.append(line)

    def ignore(self, line: str) -> None:
        """Say in the acknowledgement what was ignored, and why."""
        self.out.ignored.append(line)

    def set_state(self, state: PairState) -> None:
        self.out.new_state = state

    def send(self, email: EmailToSend) -> None:
        self.out.emails.append(email)

    def escalate(self, reason: EscalationReason, text: str) -> None:
        r = self.reply
        esc = Escalation(escalation_id(r.pair.pair_id, reason, r.message_id + text),
                         r.pair.pair_id, r.pair.liaison.email, reason, text, r.received_at)
        self.out.opened.append(esc)
        self.send(EmailToSend(
            Kind.ESCALATION, r.pair.liaison, esc.id,
            {"escalation_id": esc.id, "reporter": r.person.email},
        ))

    def open_of(self, reason: EscalationReason) -> list[Escalation]:
        return [e for e in self.open if e.reason == reason]

    def escalations_answered(self) -> list[Escalation]:
        """The open escalation the reply answers (or the only one open), else none."""
        answered = self.reply.answered
        wanted = answered.context.get("escalation_id") if answered else None
        if wanted:
            return [e for e in self.open if e.id == wanted]
        return list(self.open) if len(self.open) == 1 else []

    def close(self, escalations: list[Escalation]) -> None:
        for esc in escalations:
            resolved = Escalation(esc.id, esc.pair_id, esc.liaison, esc.reason,
                                  esc.text, esc.opened_at, self.reply.received_at)
            self.out.resolved.append(resolved)
            self.open.remove(esc)


def decide(reply: Reply, open_escalations: Sequence[Escalation]) -> Outcome:
    """Apply every keyword in the reply; a reply with none is kept as a note or feedback,
    and the free text of an answer to the feedback email is feedback with keywords too."""
    d = Decision(reply, open_escalations)
    for cmd in reply.commands:
        cmd.apply(d)
    answered_feedback = reply.answered is not None and reply.answered.kind == Kind.FEEDBACK
    if not reply.commands:
        kind = EventType.FEEDBACK if answered_feedback else EventType.NOTE
        d.event(kind, reply.free_text.strip())
        d.record("Your feedback, for the committee" if answered_feedback else "Your note")
    elif answered_feedback and reply.free_text.strip():
        # a RATING in answer to the feedback email: what else they wrote is feedback too
        d.event(EventType.FEEDBACK, reply.free_text.strip())
        d.record("Your feedback, for the committee")
    _acknowledge(d)
    return d.out


def _acknowledge(d: Decision) -> None:
    r = d.reply
    if r.last_ack_at is not None and r.received_at - r.last_ack_at < ACK_INTERVAL:
        return  # at most one ack per sender per rolling hour: robots cannot loop
    d.send(EmailToSend(
        Kind.ACK, r.person, short_hash(r.message_id),
        # the lines the keywords were read from, so a misreading shows (and can be undone)
        {"recorded": list(d.out.recorded), "ignored": list(d.out.ignored),
         "read_lines": [cmd.line for cmd in r.commands if cmd.line]},
        in_reply_to=r.message_id,
    ))
