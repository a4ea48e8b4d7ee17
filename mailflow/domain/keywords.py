"""Keywords in the new text of a reply: MET, NOT MET, GOAL, HELP, PAUSE, RESUME, END, ...

Each keyword is a small registered class (in the manner of Mailman's
``commands/eml_*.py``). A keyword counts only at the start of a line of the *new*
text, in any case, followed by the end of the line, a space or punctuation: ``MET``,
``met.``, ``Met: coffee``, ``MET - notes``; ``METADATA``, ``Helpful`` and ``Ending``
are not keywords. The longest phrase wins, so ``NOT MET`` never also counts as ``MET``.

A keyword's ``text`` is the rest of its line plus the following lines of the same
paragraph (up to a blank line or the next keyword line), for the keywords that carry
a note: MET, NOT MET, GOAL, HELP, END and RESOLVED. PAUSE, RESUME and LETTER take only
their own line. Lines that belong to no keyword are returned as ``unrecognised``.

Dates (MET's meeting date, PAUSE's until date) are read by `mailflow.domain.dates`.
Pure: text and a reference date in, values out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import ClassVar

from mailflow.domain.dates import PAST, UPCOMING, read_date

KEYWORD_NAMES = (
    "met", "not_met", "goal", "help", "pause", "resume", "end", "letter", "resolved"
)
PAUSE_DAYS = 30
_LEAD_PUNCT = " \t.:;,!-–—=>)"
_UNTIL_RE = re.compile(r"^(until|till|til|to|through)\b\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    name: str  # one of KEYWORD_NAMES
    text: str = ""
    date: date | None = None
    line: str = ""  # the keyword's line as written


@dataclass(frozen=True)
class KeywordResult:
    commands: tuple[Command, ...]
    unrecognised: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.commands)


@dataclass(frozen=True)
class Context:
    reference: date
    date_order: str


class Keyword:
    """One keyword. Subclasses set `name`, `words` and how they read their rest."""

    name: ClassVar[str]
    words: ClassVar[tuple[str, ...]]
    takes_note: ClassVar[bool] = True

    def command(self, rest: str, line: str, ctx: Context) -> Command:
        return Command(self.name, rest.strip(_LEAD_PUNCT).strip(), None, line)


REGISTRY: dict[str, type[Keyword]] = {}
# the patterns made from REGISTRY, by set of synonyms (see _matchers)
_MATCHERS: dict[tuple[tuple[str, str | tuple[str, ...]], ...],
                list[tuple[re.Pattern[str], Keyword]]] = {}


def register(cls: type[Keyword]) -> type[Keyword]:
    REGISTRY[cls.name] = cls
    _MATCHERS.clear()
    return cls


@register
class Met(Keyword):
    name, words = "met", ("MET",)

    def command(self, rest: str, line: str, ctx: Context) -> Command:
        text = rest.lstrip(_LEAD_PUNCT)
        text = re.sub(r"^on\s+", "", text, flags=re.IGNORECASE) if _starts_dated(text) else text
        when, used = read_date(text, ctx.reference, ctx.date_order, PAST)
        note = text[used:] if when else rest
        return Command(self.name, note.strip(_LEAD_PUNCT).strip(), when or ctx.reference, line)


@register
class NotMet(Keyword):
    name, words = "not_met", ("NOT MET",)


@register
class Goal(Keyword):
    name, words = "goal", ("GOAL",)


@register
class Help(Keyword):
    name, words = "help", ("HELP",)


@register
class Pause(Keyword):
    name, words, takes_note = "pause", ("PAUSE",), False

    def command(self, rest: str, line: str, ctx: Context) -> Command:
        text = _UNTIL_RE.sub("", rest.lstrip(_LEAD_PUNCT))
        when, used = read_date(text, ctx.reference, ctx.date_order, UPCOMING)
        note = text[used:] if when else rest
        until = when or ctx.reference + timedelta(days=PAUSE_DAYS)
        return Command(self.name, note.strip(_LEAD_PUNCT).strip(), until, line)


@register
class Resume(Keyword):
    name, words, takes_note = "resume", ("RESUME",), False


@register
class End(Keyword):
    name, words = "end", ("END",)


@register
class Letter(Keyword):
    name, words, takes_note = "letter", ("LETTER",), False


@register
class Resolved(Keyword):
    name, words = "resolved", ("RESOLVED",)


def _starts_dated(text: str) -> bool:
    return re.match(r"^on\s+\S", text, re.IGNORECASE) is not None


def _phrase_re(phrase: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in phrase.split()]
    return re.compile(r"^\s*" + r"\s+".join(words) + r"(?![\w'’])", re.IGNORECASE)


def _matchers(
    synonyms: Mapping[str, Sequence[str]],
) -> list[tuple[re.Pattern[str], Keyword]]:
    """The keyword patterns for these synonyms, longest phrase first (made once per set of
    synonyms: a program has one, and a poll reads thousands of replies with it)."""
    key = tuple((name, words if isinstance(words, str) else tuple(words))
                for name, words in synonyms.items())
    found = _MATCHERS.get(key)
    if found is None:
        if len(_MATCHERS) >= 64:
            _MATCHERS.clear()
        found = _MATCHERS[key] = _make_matchers(synonyms)
    return found


def _make_matchers(
    synonyms: Mapping[str, Sequence[str]],
) -> list[tuple[re.Pattern[str], Keyword]]:
    phrases: list[tuple[str, Keyword]] = []
    for name, cls in REGISTRY.items():
        extra = synonyms.get(name, ()) or synonyms.get(name.replace("_", " "), ())
        phrases += [(p, cls()) for p in (*cls.words, *extra) if p.strip()]
    phrases.sort(key=lambda item: len(item[0].split()), reverse=True)
    phrases.sort(key=lambda item: len(item[0]), reverse=True)
    return [(_phrase_re(p), kw) for p, kw in phrases]


def _match(line: str, matchers: list[tuple[re.Pattern[str], Keyword]]) -> tuple[
        Keyword, str] | None:
    for pattern, keyword in matchers:
        found = pattern.match(line)
        if found:
            return keyword, line[found.end() :]
    return None


def parse_keywords(
    new_text: str,
    *,
    synonyms: Mapping[str, Sequence[str]] | None = None,
    reference: date,
    date_order: str = "mdy",
) -> KeywordResult:
    """Read the keywords of a reply's new text; see the module docstring for the rules."""
    norm = {k.strip().lower().replace(" ", "_").replace("-", "_"): v for k, v in
            (synonyms or {}).items()}
    matchers = _matchers(norm)
    ctx = Context(reference, date_order)
    lines = new_text.replace("\r\n", "\n").split("\n")
    commands: list[Command] = []
    leftover: list[str] = []
    i = 0
    while i < len(lines):
        found = _match(lines[i], matchers)
        if found is None:
            leftover.append(lines[i])
            i += 1
            continue
        keyword, rest = found
        line = lines[i].strip()
        i += 1
        if keyword.takes_note:
            more, i = _paragraph(lines, i, lambda s: _match(s, matchers) is not None)
            rest = "\n".join([rest.strip(), *more]).strip() if more else rest
        commands.append(keyword.command(rest, line, ctx))
    return KeywordResult(tuple(commands), "\n".join(leftover).strip())


def _paragraph(lines: list[str], i: int, is_keyword: Callable[[str], bool]) -> tuple[
        list[str], int]:
    more: list[str] = []
    while i < len(lines) and lines[i].strip() and not is_keyword(lines[i]):
        more.append(lines[i].strip())
        i += 1
    return more, i
