"""The program's nouns, as frozen values.

Everything here is plain data shared by the pure cores (planner, reply
parser, effects) and by the adapters that store and send it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    MENTOR = "mentor"
    MENTEE = "mentee"
    LIAISON = "liaison"
    COORDINATOR = "coordinator"


class PairState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDING = "ending"
    ENDED = "ended"
    COMPLETED = "completed"


class Kind(StrEnum):
    INTRO = "intro"
    LIAISON_WELCOME = "liaison_welcome"
    TOPIC = "topic"
    NUDGE = "nudge"
    CLOSING = "closing"
    FEEDBACK = "feedback"
    LETTER = "letter"
    ACK = "ack"
    ESCALATION = "escalation"
    DIGEST = "digest"
    ALERT = "alert"
    ANNOUNCEMENT = "announcement"
    FIRST_CONTACT = "first_contact"
    MIDPOINT = "midpoint"


class EventType(StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    GOAL = "goal"
    HELP = "help"
    PAUSE = "pause"
    RESUME = "resume"
    END_REQUEST = "end_request"
    LETTER_REQUEST = "letter_request"
    RESOLVED = "resolved"
    NOTE = "note"
    FEEDBACK = "feedback"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    QUARANTINED = "quarantined"
    CONTACTED = "contacted"
    RATING = "rating"
    GOAL_DONE = "goal_done"
    UNDONE = "undone"


class EscalationReason(StrEnum):
    HELP = "help"
    END_REQUEST = "end_request"
    BOUNCE = "bounce"
    QUIET = "quiet"
    NO_CONTACT = "no_contact"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Topic:
    month: int
    title: str
    body: str


@dataclass(frozen=True)
class Program:
    """What the planner needs to know about the program itself."""

    name: str
    start: date
    months: int
    timezone: str
    send_time: time
    coordinators: tuple[str, ...]
    topics: tuple[Topic, ...] = ()
    nudge_after_days: int = 42
    escalate_after_days: int = 56
    catch_up_days: int = 7
    digest_weekday: int = 0  # Monday
    digest_time: time = time(8, 0)
    first_contact_days: int = 14
    digest_always: bool = False  # [schedule].digest_when == "always"
    locale: str = "en_US"  # how dates are written in emails (CLDR, via Babel)

    def topic_for(self, month: int) -> Topic | None:
        return next((t for t in self.topics if t.month == month), None)


@dataclass(frozen=True)
class Person:
    name: str
    email: str  # always lower-case
    role: Role
    timezone: str | None = None
    # the person's other addresses (a personal account, a phone): their replies count
    other_emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pair:
    pair_id: str
    mentor: Person
    mentee: Person
    liaison: Person
    start: date | None = None

    def start_date(self, program: Program) -> date:
        return self.start or program.start

    @property
    def participants(self) -> tuple[Person, Person]:
        return (self.mentor, self.mentee)

    def person(self, email: str) -> Person | None:
        email = email.lower()
        for p in (self.mentor, self.mentee, self.liaison):
            if p.email == email:
                return p
        return None


@dataclass(frozen=True)
class Event:
    time: datetime
    pair_id: str
    person: str
    role: str
    type: EventType
    date: date | None = None
    text: str = ""
    message_id: str = ""
    # the rating of a RATING, the goal's number for GOAL_DONE, the withdrawn type for UNDONE
    value: str = ""
    # the event a GOAL_DONE or UNDONE is about (`mailflow.domain.ledger.event_ref`); not exported
    ref: str = ""

    def export(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(),
            "pair_id": self.pair_id,
            "person": self.person,
            "role": self.role,
            "type": str(self.type),
            "date": self.date.isoformat() if self.date else None,
            "text": self.text,
            "message_id": self.message_id,
            "value": self.value,
        }


@dataclass(frozen=True)
class Escalation:
    id: str
    pair_id: str
    liaison: str
    reason: EscalationReason
    text: str
    opened_at: datetime
    resolved_at: datetime | None = None

    def export(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pair_id": self.pair_id,
            "liaison": self.liaison,
            "reason": str(self.reason),
            "text": self.text,
            "opened_at": self.opened_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
        }


@dataclass(frozen=True)
class OutboxEntry:
    """One email mailflow means to send, exactly once, under its key."""

    key: str
    pair_id: str
    person: str
    role: str
    kind: Kind
    period: str
    due_at: datetime
    message_id: str
    status: OutboxStatus = OutboxStatus.PENDING
    sent_at: datetime | None = None
    attempts: int = 0
    last_error: str = ""
    next_attempt_at: datetime | None = None
    # Extra render context for reply-triggered mail (ack lines, escalation id...).
    context: dict[str, Any] = field(default_factory=dict, compare=False)

    def export(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "pair_id": self.pair_id,
            "person": self.person,
            "role": self.role,
            "kind": str(self.kind),
            "status": str(self.status),
            "message_id": self.message_id,
            "due_at": self.due_at.isoformat(),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "attempts": self.attempts,
            "error": self.last_error,
        }


EVENT_EXPORT_FIELDS = (
    "time", "pair_id", "person", "role", "type", "date", "text", "message_id", "value",
)
ESCALATION_EXPORT_FIELDS = (
    "id", "pair_id", "liaison", "reason", "text", "opened_at", "resolved_at",
)
OUTBOX_EXPORT_FIELDS = (
    "key", "pair_id", "person", "role", "kind", "status", "message_id", "due_at", "sent_at",
    "attempts", "error",
)
