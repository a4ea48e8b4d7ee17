"""Keywords in the new text of a reply: MET, NOT MET, GOAL, HELP, PAUSE, RESUME, END, ...

Each keyword is one registered class that holds its words, its help line for
the emails, its parsing and its pure effect (`base`); the classes live in one
module per family, imported here in the order the emails list them:

- `meetings`: MET, NOT MET, CONTACTED, RATING
- `goals`: GOAL, DONE
- `course`: HELP, PAUSE, RESUME, END, LETTER
- `undo`: UNDO
- `liaison`: RESOLVED

`parser` reads a reply's new text into commands; dates (MET's meeting date,
PAUSE's until date) are read by `mailflow.domain.dates`. Pure: text and a
reference date in, values out.
"""

from __future__ import annotations

from mailflow.domain.keywords import course, goals, liaison, meetings, undo
from mailflow.domain.keywords.base import REGISTRY, Command, Context, Keyword, register
from mailflow.domain.keywords.parser import KeywordResult, parse_keywords

FAMILIES = (meetings, goals, course, undo, liaison)  # the order the emails list them in


def _in_family_order() -> None:
    """Order REGISTRY by family, then by place in the family's module, whatever the
    order the modules were imported in."""
    rank = {family.__name__: i for i, family in enumerate(FAMILIES)}
    ordered = sorted(REGISTRY.items(), key=lambda item: rank.get(item[1].__module__, len(rank)))
    REGISTRY.clear()
    REGISTRY.update(ordered)


_in_family_order()
KEYWORD_NAMES = tuple(REGISTRY)


def help_lines(kind: str, role: str, *, term_ended: bool = False) -> list[tuple[str, str]]:
    """(word, meaning) of the keywords an email of ``kind`` to ``role`` lists, in order."""
    return [(cls.words[0], cls.help) for cls in REGISTRY.values()
            if cls.shown_in(str(kind), str(role), term_ended=term_ended)]


__all__ = [
    "FAMILIES", "KEYWORD_NAMES", "REGISTRY", "Command", "Context", "Keyword", "KeywordResult",
    "help_lines", "parse_keywords", "register",
]
