"""What the demo's simulated people do with the mail delivered to them.

``Participants.read(deliveries)`` looks at each delivered message the way its
recipient would (the kind header, the subject, the date) and schedules what they
write back, and when. ``due(until)`` hands over what has been written by then, in
order, for the demo to APPEND to the committee's IMAP inbox.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from mailflow.demo import mail as demo_mail
from mailflow.demo.people import FEEDBACK, GOALS, MEETING_NOTES, Cast, PairCast, Person, Scenario
from mailflow.demo.servers import Delivery
from mailflow.domain.schedule import month_start

_MONTH = re.compile(r"\bMonth (\d+) of (\d+)")
AWAY_DAYS = 10
HELP_MONTH, AWAY_MONTH, BOUNCE_MONTH, HOME_MONTH = 3, 4, 5, 6
UNDO_MONTH, DONE_MONTH = 6, 7  # a MET with the wrong date taken back; a goal reached


@dataclass(order=True)
class Outgoing:
    """A message one of the simulated people sends to the committee's inbox."""

    at: datetime
    seq: int
    raw: bytes = field(compare=False)
    label: str = field(compare=False)


class Participants:
    def __init__(self, cast: Cast, zone: ZoneInfo, envelope_from: str, start: date) -> None:
        self.cast = cast
        self.start = start
        self.people = cast.people
        self.zone = zone
        self.envelope_from = envelope_from
        self._pending: list[Outgoing] = []
        self._seq = 0
        self._away_answered: set[str] = set()
        # pairs the committee is asked to end, and from which day (the demo ends them)
        self.ended: list[tuple[PairCast, date]] = []

    # --- the queue -----------------------------------------------------------------

    def due(self, until: datetime) -> list[Outgoing]:
        """Everything written up to ``until``, oldest first."""
        ready = []
        while self._pending and self._pending[0].at <= until:
            ready.append(heapq.heappop(self._pending))
        return ready

    @property
    def waiting(self) -> int:
        return len(self._pending)

    def _send(self, at: datetime, raw: bytes, label: str) -> None:
        self._seq += 1
        heapq.heappush(self._pending, Outgoing(at, self._seq, raw, label))

    def _at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=self.zone)

    def _reply(self, msg: EmailMessage, who: Person, body: str, at: datetime, label: str,
               from_address: str | None = None) -> None:
        raw = demo_mail.reply(msg, who.header, body, at, style=who.style,
                              from_address=from_address)
        who_ = who.role if who.pair_index < 0 else \
            f"{self.cast.pairs[who.pair_index].pair_id}-{who.role}"
        self._send(at, raw, f"{who_}-{label}")

    # --- reading -----------------------------------------------------------------------

    def read(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            who = self.people.get(delivery.recipient)
            if who is None:
                continue
            msg = delivery.message()
            kind = str(msg.get("X-Mailflow-Kind", ""))
            sent = demo_mail.sent_date(msg).astimezone(self.zone)
            if who.role == "liaison":
                self._liaison(msg, who, kind, sent)
            elif who.pair_index >= 0:
                pair = self.cast.pairs[who.pair_index]
                if str(msg.get("X-Mailflow-Pair", pair.pair_id)) != pair.pair_id:
                    continue  # mail about a match that has ended (a rematched mentee)
                if pair.scenario != Scenario.QUIET and not self._away(msg, pair, who, sent):
                    self._participant(msg, pair, who, kind, sent)

    def _liaison(self, msg: EmailMessage, who: Person, kind: str, sent: datetime) -> None:
        if kind != "escalation":
            return
        subject = str(msg["Subject"])
        day = sent.date()
        if "Help requested" in subject:
            self._reply(msg, who, "RESOLVED Spoke with both of them by phone. They will meet "
                        "online on Thursday evenings from now on.", self._at(day + timedelta(3),
                                                                             10, 30),
                        "resolved")
        elif "bouncing" in subject:
            self._reply(msg, who, "RESOLVED The mailbox was full after a long leave; it has "
                        "been cleared and mail gets through again.",
                        self._at(day + timedelta(1), 16, 5), "resolved")
        elif "No first contact yet" in subject:
            self._reply(msg, who, "RESOLVED I wrote to both of them and left a voicemail for "
                        "the mentor; I will follow up if the pair stays silent.",
                        self._at(day + timedelta(2), 11, 20), "resolved")
        elif "No meeting recorded" in subject:
            pair = self._pair_of(msg)
            mentee = pair.mentee.first_name if pair else "the mentee"
            self._reply(msg, who, f"RESOLVED Reached {mentee} by phone at last: the mentor "
                        "left the library system over the summer and never started. Please "
                        f"end this match; {mentee} would welcome a new mentor.",
                        self._at(day + timedelta(2), 15, 40), "resolved-end")
            if pair is not None:
                self.ended.append((pair, day + timedelta(3)))

    def recast(self, cast: Cast) -> None:
        """The cast after a rematch: the rematched mentee now plays their new pair."""
        self.cast = cast
        self.people = cast.people

    def _pair_of(self, msg: EmailMessage) -> PairCast | None:
        pair_id = str(msg.get("X-Mailflow-Pair", ""))
        return next((p for p in self.cast.pairs if p.pair_id == pair_id), None)

    def _away(self, msg: EmailMessage, pair: PairCast, who: Person, sent: datetime) -> bool:
        """The away mentor's mail program answers (once) while they are out."""
        if pair.scenario != Scenario.AWAY or who != pair.mentor:
            return False
        start = month_start(self.start, AWAY_MONTH)
        if not start <= sent.date() < start + timedelta(AWAY_DAYS):
            return False
        if who.email not in self._away_answered:
            self._away_answered.add(who.email)
            back = (start + timedelta(AWAY_DAYS)).strftime("%B %-d")
            at = sent + timedelta(minutes=2)
            self._send(at, demo_mail.out_of_office(msg, who.header, at, back),
                       f"{pair.pair_id}-mentor-out-of-office")
        return True

    def _participant(self, msg: EmailMessage, pair: PairCast, who: Person, kind: str,
                     sent: datetime) -> None:
        day = sent.date()
        if kind == "intro":
            self._intro(msg, pair, who, day)
        elif kind in ("topic", "closing"):
            match = _MONTH.search(str(msg["Subject"]))
            month = int(match.group(1)) if match else 9
            self._month(msg, pair, who, month, day)
        elif kind == "nudge" and who == pair.mentor:
            met = day + timedelta(1)
            self._reply(msg, who, f"MET {met.isoformat()} Sorry for the silence, we finally "
                        "found a time and caught up on everything.",
                        self._at(met, 20, 40), "met")
        elif kind == "midpoint":
            self._midpoint(msg, pair, who, day)
        elif kind == "feedback" and "reminder" not in str(msg["Subject"]).lower():
            self._feedback(msg, pair, who, day)

    def _intro(self, msg: EmailMessage, pair: PairCast, who: Person, day: date) -> None:
        if who == pair.mentee:
            met = day + timedelta(2 + pair.index % 3)
            goals = GOALS[pair.index % len(GOALS)], GOALS[(pair.index + 1) % len(GOALS)]
            body = (f"MET {met.isoformat()} {MEETING_NOTES[1]}\n\nGOAL {goals[0]}\n"
                    f"GOAL {goals[1]}\n\nThank you,\n{who.first_name}")
            self._reply(msg, who, body, self._at(met + timedelta(1), 19, 10), "met-goals")
        elif pair.index % 2 == 0:
            self._reply(msg, who, f"CONTACTED Thank you! I have written to "
                        f"{pair.mentee.first_name} to introduce myself.",
                        self._at(day + timedelta(1), 8, 40), "contacted")

    def _month(self, msg: EmailMessage, pair: PairCast, who: Person, month: int,
               day: date) -> None:
        responder = pair.mentor if (month + pair.index) % 2 == 0 else pair.mentee
        special = (pair.scenario, month)
        if special in ((Scenario.HELP, HELP_MONTH), (Scenario.AWAY, AWAY_MONTH),
                       (Scenario.BOUNCE, BOUNCE_MONTH), (Scenario.BOUNCE, HOME_MONTH)):
            responder = pair.mentee
        if special == (Scenario.BOUNCE, BOUNCE_MONTH) and who == pair.mentor:
            at = self._at(day, 9, 1)
            self._send(at, demo_mail.bounce(
                msg, self.envelope_from, at, reporting_mta="mx." + who.email.split("@")[1],
                status="5.2.2", diagnostic="552 5.2.2 <" + who.email + ">: mailbox full"),
                f"{pair.pair_id}-bounce")
            return
        if who != responder:
            return
        met = day + timedelta(2 + pair.index % 3)
        at = self._at(met + timedelta(1), 20, 15 + pair.index)
        if special == (Scenario.HELP, HELP_MONTH):
            body = (f"NOT MET {pair.mentor.first_name} had to cancel twice.\n\nHELP Since my "
                    "shifts moved to evenings and weekends we cannot find a time to meet. "
                    "Could the committee suggest something?")
            self._reply(msg, who, body, self._at(day + timedelta(2), 21, 5), "not-met-help")
            return
        if special == (Scenario.AWAY, AWAY_MONTH):
            body = (f"NOT MET {pair.mentor.first_name} is away until mid-month; we will meet "
                    "when they are back.")
            self._reply(msg, who, body, self._at(day + timedelta(1), 12, 20), "not-met")
            return
        body = f"MET {_written(met, month)} {MEETING_NOTES.get(month, MEETING_NOTES[9])}"
        if special == (Scenario.HELP, UNDO_MONTH):  # last month's date, then UNDO
            wrong = met - timedelta(days=28)
            self._reply(msg, who, f"MET {wrong.isoformat()} "
                        f"{MEETING_NOTES.get(month, MEETING_NOTES[9])}", at, "met-wrong-date")
            self._reply(msg, who, f"UNDO\nMET {met.isoformat()} Sorry, I put last month's "
                        "date in my email yesterday.", at + timedelta(days=1, hours=-11),
                        "undo-met")
            return
        if month == DONE_MONTH:
            body += "\n\nDONE 1"
        if (month == 5 and pair.scenario == Scenario.STEADY) or special == (Scenario.HELP, 5):
            body += f"\n\nGOAL {GOALS[(pair.index + 2) % len(GOALS)]}"
        if special == (Scenario.BOUNCE, HOME_MONTH):
            home = who.first_name.lower() + "." + who.email.split("@")[0] + "@homemail.example"
            self._reply(msg, who, body, at, "personal-address", from_address=home)
            return
        self._reply(msg, who, body, at, "met")

    def _midpoint(self, msg: EmailMessage, pair: PairCast, who: Person, day: date) -> None:
        """The mid-term check-in: each person rates how it is going; the mentee who asked
        for help in month 3 is still not happy."""
        if pair.scenario == Scenario.HELP and who == pair.mentee:
            body = ("RATING 2 We meet online now, but it is hard to keep going with my "
                    "evening shifts. I am not sure this is working for either of us.")
        elif who == pair.mentor:
            body = "RATING 5 Going well: we have settled into a monthly rhythm."
        else:
            body = "RATING 4 Very useful so far, though our goals need updating."
        self._reply(msg, who, body, self._at(day + timedelta(1 + pair.index % 2), 18, 45),
                    "rating")

    def _feedback(self, msg: EmailMessage, pair: PairCast, who: Person, day: date) -> None:
        text = ("RATING 5" if who == pair.mentor else "RATING 4") + "\n\n" + \
            FEEDBACK[0 if who == pair.mentor else 1]
        self._reply(msg, who, text, self._at(day + timedelta(2 if who == pair.mentor else 4),
                                             12, 30), "feedback")
        if who == pair.mentor and pair.scenario == Scenario.HELP:
            self._reply(msg, who, "LETTER please - my director asked for one for my annual "
                        "review file.", self._at(day + timedelta(6), 10, 0), "letter")


def _written(day: date, month: int) -> str:
    """A meeting date as people write it: ISO, "March 4", or "3/4" (month first)."""
    style = month % 3
    if style == 0:
        return day.isoformat()
    if style == 1:
        return f"{day.strftime('%B')} {day.day}"
    return f"{day.month}/{day.day}"
