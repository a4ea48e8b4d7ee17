"""The keywords that change the course of the match: HELP, PAUSE, RESUME, END, LETTER."""

from __future__ import annotations

import re
from datetime import timedelta

from mailflow.domain.dates import UPCOMING, read_date
from mailflow.domain.effects import Decision, EmailToSend
from mailflow.domain.keywords.base import (
    LEAD_PUNCT,
    Command,
    Context,
    Keyword,
    ParticipantKeyword,
    register,
)
from mailflow.domain.model import EscalationReason, EventType, Kind, PairState, Role

PAUSE_DAYS = 30
_UNTIL_RE = re.compile(r"^(until|till|til|to|through)\b\s*", re.IGNORECASE)
_UNTIL_WORD_RE = re.compile(r"(until|till|til|through)\b", re.IGNORECASE)  # not "to"


@register
class Help(ParticipantKeyword):
    name, words = "help", ("HELP",)
    help = ("ask your liaison to get in touch; what you write after HELP goes to "
            "the liaison only")

    def by_participant(self, d: Decision, cmd: Command) -> None:
        text = cmd.text.strip()
        d.event(EventType.HELP, text)
        d.escalate(EscalationReason.HELP, text)
        d.record(f"Your request for help was sent to {d.reply.pair.liaison.name}")


@register
class Pause(ParticipantKeyword):
    name, words, takes_note, ordinary_word = "pause", ("PAUSE",), False, True
    help = f"pause these emails for {PAUSE_DAYS} days, or until a date: “PAUSE until 15 January”"

    def argument_follows(self, rest: str, ctx: Context) -> bool:
        """"Pause until ...", "Pause 15 January", "Pause bis zum 15. Januar"."""
        return _UNTIL_WORD_RE.match(rest.lstrip()) is not None or read_date(
            rest.lstrip(), ctx.reference, ctx.date_order, UPCOMING)[0] is not None

    def command(self, rest: str, line: str, ctx: Context) -> Command:
        text = _UNTIL_RE.sub("", rest.lstrip(LEAD_PUNCT))
        when, used = read_date(text, ctx.reference, ctx.date_order, UPCOMING)
        note = text[used:] if when else rest
        until = when or ctx.reference + timedelta(days=PAUSE_DAYS)
        return Command(self.name, note.strip(LEAD_PUNCT).strip(), until, line, self)

    def by_participant(self, d: Decision, cmd: Command) -> None:
        d.event(EventType.PAUSE, cmd.text.strip(), cmd.date)
        d.record(f"Paused until {cmd.date}" if cmd.date else f"Paused for {PAUSE_DAYS} days")


@register
class Resume(ParticipantKeyword):
    name, words, takes_note, ordinary_word = "resume", ("RESUME",), False, True
    help = "start the emails again after a pause"

    def by_participant(self, d: Decision, cmd: Command) -> None:
        d.event(EventType.RESUME, cmd.text.strip())
        d.record("Pause ended: program emails resume")


@register
class End(ParticipantKeyword):
    """A participant asks to end the match; the liaison confirms it by replying END."""

    name, words, ordinary_word = "end", ("END",), True
    help = ("ask to end the match: no fault and no explanation needed; "
            "your liaison will follow up")

    def by_participant(self, d: Decision, cmd: Command) -> None:
        text = cmd.text.strip()
        d.event(EventType.END_REQUEST, text)
        d.escalate(EscalationReason.END_REQUEST, text)
        d.set_state(PairState.ENDING)
        d.record(
            f"Your request to end the match was sent to {d.reply.pair.liaison.name}, who will "
            "be in touch"
        )

    def by_liaison(self, d: Decision, cmd: Command) -> None:
        requests = d.open_of(EscalationReason.END_REQUEST)
        if not requests:
            super().by_liaison(d, cmd)
            return
        d.set_state(PairState.ENDED)
        d.event(EventType.RESOLVED, cmd.text.strip() or "end of the match confirmed")
        d.close(requests)
        d.record(f"The end of pair {d.reply.pair.pair_id} is confirmed")


@register
class Letter(Keyword):
    name, words, takes_note, ordinary_word = "letter", ("LETTER",), False, True
    help = ("receive a letter recognising your service as a mentor, "
            "for your records or dossier")

    @classmethod
    def shown_in(cls, kind: str, role: str, *, term_ended: bool) -> bool:
        # a mentor's feedback email, and the acks once the term has ended
        return role == Role.MENTOR and (kind == Kind.FEEDBACK
                                        or (kind == Kind.ACK and term_ended))

    def by_participant(self, d: Decision, cmd: Command) -> None:
        r = d.reply
        if r.person.role != Role.MENTOR:
            d.ignore("LETTER: recognition letters are for mentors")
        elif not r.term_ended:
            d.ignore("LETTER: the letter can be requested once the term has ended")
        else:
            d.event(EventType.LETTER_REQUEST)
            d.send(EmailToSend(Kind.LETTER, r.person, "term"))
            d.record("Your recognition letter is on its way")
