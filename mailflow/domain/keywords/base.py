"""The shape of a keyword, and the registry the parser and the emails read.

A keyword is one small registered class (in the manner of Mailman's
``commands/eml_echo.py``: name, description and ``process`` in one place) that
holds all of it: ``words`` (what a person writes), ``help`` (its line in the
emails' list of keywords) and ``shown_in`` (which emails list it), ``command``
(how it reads the rest of its line) and ``apply`` (its pure effect on the pair,
recorded on the `Decision`). Adding a keyword means one new class here or in a
family module next to this one, and the template text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar, TypeVar

from mailflow.domain.effects import Decision
from mailflow.domain.model import Kind, Role

LEAD_PUNCT = " \t.:;,!-–—=>)"
# after an ordinary-word keyword: punctuation, then a space or the end ("End: ...",
# "Pause - ...", "end."), not a hyphenated word ("End-of-year")
_PUNCT_THEN_SPACE_RE = re.compile(r"\s*[.:;,!?\-–—=>)]+(?:\s|$)")
# the emails whose recipients (mentor and mentee) can use the participants' keywords
# (first_contact and midpoint are SPEC section 2's reminder and mid-term check-in)
PARTICIPANT_KINDS = frozenset({Kind.INTRO, Kind.TOPIC, Kind.NUDGE, Kind.CLOSING, Kind.ACK,
                               Kind.FIRST_CONTACT, Kind.MIDPOINT})
PARTICIPANT_ROLES = frozenset({Role.MENTOR, Role.MENTEE})


@dataclass(frozen=True)
class Context:
    """What reading a keyword's rest may need: the reply's date and the date order."""

    reference: date
    date_order: str


@dataclass(frozen=True)
class Command:
    """One keyword as read from a reply, with the class that knows what it does."""

    name: str  # one of KEYWORD_NAMES
    text: str = ""
    date: date | None = None
    line: str = ""  # the keyword's line as written
    keyword: Keyword | None = field(default=None, compare=False, repr=False)
    value: str = ""  # what the keyword read besides text and date (RATING's number...)

    def apply(self, decision: Decision) -> None:
        keyword = self.keyword or REGISTRY[self.name]()
        keyword.apply(decision, self)


class Keyword:
    """One keyword. Subclasses set `name`, `words` and `help`, and override what differs."""

    name: ClassVar[str]
    words: ClassVar[tuple[str, ...]]
    help: ClassVar[str] = ""
    takes_note: ClassVar[bool] = True  # its text runs on to the end of its paragraph
    # END, PAUSE, RESUME, LETTER are ordinary English words too ("End of semester is busy")
    ordinary_word: ClassVar[bool] = False

    @classmethod
    def shown_in(cls, kind: str, role: str, *, term_ended: bool) -> bool:
        """Whether an email of ``kind`` to ``role`` lists this keyword."""
        return False

    def reads_as_keyword(self, written: str, rest: str, ctx: Context) -> bool:
        """Is ``written`` (the keyword's words as the line has them) followed by ``rest``
        (the rest of the line) this keyword? Always, for most. For an ordinary word (SPEC
        section 3): alone on the line in any case; followed by more words only in
        capitals, after punctuation and a space, or before its documented argument."""
        if not self.ordinary_word or not rest.strip(LEAD_PUNCT + "?"):
            return True
        if written.upper() == written:  # in capitals (or in a script without them)
            return True
        return _PUNCT_THEN_SPACE_RE.match(rest) is not None or self.argument_follows(rest, ctx)

    def argument_follows(self, rest: str, ctx: Context) -> bool:
        """Does ``rest`` start with this keyword's documented argument? (None by default:
        END's reason is free text, and RESUME and LETTER take none.)"""
        return False

    def command(self, rest: str, line: str, ctx: Context) -> Command:
        """Read the rest of the keyword's line (and paragraph, if it takes a note)."""
        return Command(self.name, rest.strip(LEAD_PUNCT).strip(), None, line, self)

    def apply(self, d: Decision, cmd: Command) -> None:
        """Record the effect of ``cmd`` on ``d``: by the liaison, or by a participant."""
        if d.reply.person.role == Role.LIAISON:
            self.by_liaison(d, cmd)
        else:
            self.by_participant(d, cmd)

    def by_participant(self, d: Decision, cmd: Command) -> None:
        d.ignore(f"{cmd.name.upper()} is for liaisons replying to an escalation")

    def by_liaison(self, d: Decision, cmd: Command) -> None:
        d.ignore(
            f"{cmd.name.upper()}: liaisons reply RESOLVED to an escalation (or END to confirm "
            "an end request)"
        )


class ParticipantKeyword(Keyword):
    """A keyword for mentors and mentees, listed in their emails during the term."""

    @classmethod
    def shown_in(cls, kind: str, role: str, *, term_ended: bool) -> bool:
        return role in PARTICIPANT_ROLES and kind in PARTICIPANT_KINDS and not term_ended


REGISTRY: dict[str, type[Keyword]] = {}
K = TypeVar("K", bound=type[Keyword])


def register(cls: K) -> K:
    """Class decorator: make ``cls`` a keyword the parser reads and the emails list."""
    REGISTRY[cls.name] = cls
    return cls
