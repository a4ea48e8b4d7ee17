"""Reading the keywords of a reply's new text, line by line.

A keyword counts only at the start of a line of the *new* text, in any case,
followed by the end of the line, a space or punctuation: ``MET``, ``met.``,
``Met: coffee``, ``MET - notes``; ``METADATA``, ``Helpful`` and ``Ending`` are
not keywords. The longest phrase wins, so ``NOT MET`` never also counts as ``MET``.
END, PAUSE, RESUME and LETTER are ordinary words too: followed by more words they
count only in capitals, after punctuation and a space, or before their documented
argument (``Keyword.reads_as_keyword``), so "End of semester is busy" is a sentence.

A keyword's ``text`` is the rest of its line plus the following lines of the same
paragraph (up to a blank line or the next keyword line) when the keyword takes a
note (``Keyword.takes_note``); the others take only their own line. How the rest is
read (a date, a number) is the keyword's own ``command``. Lines that belong to no
keyword are returned as ``unrecognised``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from mailflow.domain.keywords.base import REGISTRY, Command, Context, Keyword

Matchers = list[tuple[re.Pattern[str], Keyword]]
# the patterns made from REGISTRY, by registry and set of synonyms (see _matchers)
_MATCHERS: dict[tuple[object, ...], Matchers] = {}


@dataclass(frozen=True)
class KeywordResult:
    commands: tuple[Command, ...]
    unrecognised: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.commands)


def _phrase_re(phrase: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in phrase.split()]
    return re.compile(r"^\s*" + r"\s+".join(words) + r"(?![\w'’])", re.IGNORECASE)


def _matchers(synonyms: Mapping[str, Sequence[str]]) -> Matchers:
    """The keyword patterns for these synonyms, longest phrase first (made once per set of
    synonyms: a program has one, and a poll reads thousands of replies with it)."""
    key = (tuple(REGISTRY.values()),
           *((name, words if isinstance(words, str) else tuple(words))
             for name, words in synonyms.items()))
    found = _MATCHERS.get(key)
    if found is None:
        if len(_MATCHERS) >= 64:
            _MATCHERS.clear()
        found = _MATCHERS[key] = _make_matchers(synonyms)
    return found


def _make_matchers(synonyms: Mapping[str, Sequence[str]]) -> Matchers:
    phrases: list[tuple[str, Keyword]] = []
    for name, cls in REGISTRY.items():
        extra = synonyms.get(name, ()) or synonyms.get(name.replace("_", " "), ())
        phrases += [(p, cls()) for p in (*cls.words, *extra) if p.strip()]
    phrases.sort(key=lambda item: len(item[0].split()), reverse=True)
    phrases.sort(key=lambda item: len(item[0]), reverse=True)
    return [(_phrase_re(p), kw) for p, kw in phrases]


def _match(line: str, matchers: Matchers, ctx: Context) -> tuple[Keyword, str] | None:
    for pattern, keyword in matchers:
        found = pattern.match(line)
        if found and keyword.reads_as_keyword(line[: found.end()].strip(),
                                               line[found.end() :], ctx):
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
        found = _match(lines[i], matchers, ctx)
        if found is None:
            leftover.append(lines[i])
            i += 1
            continue
        keyword, rest = found
        line = lines[i].strip()
        i += 1
        if keyword.takes_note:
            more, i = _paragraph(lines, i, lambda s: _match(s, matchers, ctx) is not None)
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
