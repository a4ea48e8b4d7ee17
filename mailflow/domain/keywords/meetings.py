"""The keywords that say whether and how the pair meets: MET, NOT MET, CONTACTED, RATING."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from mailflow.domain.dates import PAST, read_date
from mailflow.domain.effects import Decision
from mailflow.domain.keywords.base import (
    LEAD_PUNCT,
    PARTICIPANT_ROLES,
    Command,
    Context,
    Keyword,
    ParticipantKeyword,
    register,
)
from mailflow.domain.ledger import LOW_RATING, RATING_MAX, RATING_MIN
from mailflow.domain.model import EventType, Kind, Role

# a number, perhaps "of 5" or "/5", not followed by more of a word or a decimal part
_RATING_RE = re.compile(r"(\d+)(?:\s*(?:/|out\s+of|of)\s*5)?(?![\w'’]|[.,]\d)", re.IGNORECASE)

MET_AHEAD = timedelta(days=2)  # a meeting dated further after the reply is a typo


@register
class Met(ParticipantKeyword):
    """A check-in. Its date is the one written after MET, else the reply's. A date
    before the pair's start or more than two days after the reply cannot be the
    meeting's: the reply's date is recorded, the written date kept in the text, and
    the ack says so. Several MET lines in one reply (``WE MET`` and ``met yesterday``)
    are one check-in: the first written date, and every note."""

    name, words = "met", ("MET",)
    help = ("we met. Add the date and a few notes if you like, "
            "e.g. “MET 3 October, talked about my first-year review”")

    def command(self, rest: str, line: str, ctx: Context) -> Command:
        text = rest.lstrip(LEAD_PUNCT)
        text = re.sub(r"^on\s+", "", text, flags=re.IGNORECASE) if _starts_dated(text) else text
        when, used = read_date(text, ctx.reference, ctx.date_order, PAST)
        note = text[used:] if when else rest
        return Command(self.name, note.strip(LEAD_PUNCT).strip(), when or ctx.reference, line,
                       self)

    def by_participant(self, d: Decision, cmd: Command) -> None:
        reply = d.reply
        # a date other than the reply's own was written (the default is the reply's date)
        written = cmd.date if cmd.date is not None and cmd.date != reply.day else None
        day, note, why = written or reply.day, cmd.text.strip(), ""
        if written is not None and reply.pair_start and written < reply.pair_start:
            why = f"before your mentorship began on {reply.pair_start.isoformat()}"
        elif written is not None and written > reply.day + MET_AHEAD:
            why = "more than two days after your reply"
        if why:
            day, note = reply.day, cmd.line.strip()  # the written date stays in the text
        earlier = next((i for i, e in enumerate(d.out.events) if e.type == EventType.MET
                        and e.message_id == reply.message_id), None)
        if earlier is None:
            d.event(EventType.MET, note, day)
        else:  # one check-in per reply: the first written date, every note
            first = d.out.events[earlier]
            if first.date == reply.day and written is not None and not why:
                first = replace(first, date=day)
            text = "; ".join(t for t in (first.text, note) if t)
            d.out.events[earlier] = replace(first, text=text)
            day = first.date or day
            d.out.recorded[:] = [r for r in d.out.recorded if not r.startswith("Meeting on")]
        line = f"Meeting on {day.isoformat()}"
        if why:
            line += (f" (the date you wrote, {written.isoformat() if written else ''}, is "
                     f"{why}, so your reply's date was recorded; your words are kept)")
        d.record(line)


@register
class NotMet(ParticipantKeyword):
    name, words = "not_met", ("NOT MET",)
    help = "we could not meet this month (a word on why helps, if you like)"

    def by_participant(self, d: Decision, cmd: Command) -> None:
        d.event(EventType.NOT_MET, cmd.text.strip())
        d.record("No meeting this month")


def _starts_dated(text: str) -> bool:
    return re.match(r"^on\s+\S", text, re.IGNORECASE) is not None


@register
class Contacted(Keyword):
    """The mentor has made first contact: no first-contact reminder or escalation follows."""

    name, words = "contacted", ("CONTACTED",)
    help = ("you have introduced yourself to your mentee; this stops the reminder about "
            "first contact")

    @classmethod
    def shown_in(cls, kind: str, role: str, *, term_ended: bool) -> bool:
        return role == Role.MENTOR and kind in (Kind.INTRO, "first_contact") and not term_ended

    def by_participant(self, d: Decision, cmd: Command) -> None:
        if d.reply.person.role != Role.MENTOR:
            d.ignore("CONTACTED: first contact is recorded by the mentor")
            return
        d.event(EventType.CONTACTED, cmd.text.strip())
        d.record(f"First contact with {d.reply.pair.mentee.name}: no more reminders about it")


@register
class Rating(Keyword):
    """How the mentorship is going, 1 to 5; a rating of 1 or 2 reaches the liaison's digest."""

    name, words = "rating", ("RATING",)
    help = ("how the mentorship is going, from 1 (not well) to 5 (very well), with a few words "
            "if you like: “RATING 4 we meet every month”")

    @classmethod
    def shown_in(cls, kind: str, role: str, *, term_ended: bool) -> bool:
        return role in PARTICIPANT_ROLES and kind in ("midpoint", Kind.FEEDBACK)

    def command(self, rest: str, line: str, ctx: Context) -> Command:
        text = rest.lstrip(LEAD_PUNCT)
        found = _RATING_RE.match(text)
        if found and RATING_MIN <= int(found.group(1)) <= RATING_MAX:
            note = text[found.end():].strip(LEAD_PUNCT).strip()
            return Command(self.name, note, None, line, self, value=str(int(found.group(1))))
        return Command(self.name, text.strip(), None, line, self)

    def by_participant(self, d: Decision, cmd: Command) -> None:
        if not cmd.value:
            given = cmd.text.split()[0] if cmd.text.split() else ""
            d.ignore(f"RATING{' ' + given if given else ''}: write a number from {RATING_MIN} "
                     f"to {RATING_MAX} right after RATING, e.g. “RATING 4 we meet every month”")
            return
        d.event(EventType.RATING, cmd.text.strip(), value=cmd.value)
        low = int(cmd.value) <= LOW_RATING
        d.record(f"Rating: {cmd.value} of {RATING_MAX}" + (
            f" ({d.reply.pair.liaison.name}, your liaison, will see it)" if low else ""))
