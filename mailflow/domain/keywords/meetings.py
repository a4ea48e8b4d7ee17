"""The keywords that say whether the pair met: MET and NOT MET."""

from __future__ import annotations

import re

from mailflow.domain.dates import PAST, read_date
from mailflow.domain.effects import Decision
from mailflow.domain.keywords.base import (
    LEAD_PUNCT,
    Command,
    Context,
    ParticipantKeyword,
    register,
)
from mailflow.domain.model import EventType


@register
class Met(ParticipantKeyword):
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
        d.event(EventType.MET, cmd.text.strip(), cmd.date)
        d.record(f"Meeting on {cmd.date or d.reply.received_at.date()}")


@register
class NotMet(ParticipantKeyword):
    name, words = "not_met", ("NOT MET",)
    help = "we could not meet this month (a word on why helps, if you like)"

    def by_participant(self, d: Decision, cmd: Command) -> None:
        d.event(EventType.NOT_MET, cmd.text.strip())
        d.record("No meeting this month")


def _starts_dated(text: str) -> bool:
    return re.match(r"^on\s+\S", text, re.IGNORECASE) is not None
