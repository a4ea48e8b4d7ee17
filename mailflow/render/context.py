"""The render context contract: builders for its shared parts, and sample contexts.

``docs/templates.md`` documents every variable a template receives. The
builders here produce the parts that come straight from the domain model
(``program``, ``recipient``, ``pair``, person dicts, ``reply_keywords``) so
that every email gets them in one shape; the dispatch service adds the
kind-specific variables. ``sample_contexts(name)`` gives, for each template,
contexts that exercise its branches; ``mailflow templates check`` renders them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from mailflow.domain.keywords import help_lines
from mailflow.domain.ledger import GoalStatus
from mailflow.domain.model import Pair, Person, Program
from mailflow.domain.schedule import term_end

Context = dict[str, Any]

def reply_keywords(kind: str, role: str, *, term_ended: bool = False) -> list[dict[str, str]]:
    """The keywords that apply to ``role`` for an email of ``kind``, as ``{word, meaning}``.

    Each keyword's class says where it is listed and what its line says
    (`mailflow.domain.keywords`): participants MET .. END during the term; mentors
    LETTER once the term has ended; liaisons RESOLVED on an escalation.
    """
    return [{"word": word, "meaning": meaning}
            for word, meaning in help_lines(kind, role, term_ended=term_ended)]


def first_name(name: str) -> str:
    """``"Dr. Ana Ruiz"`` -> ``"Ana"``; an empty name stays empty."""
    parts = name.split()
    while len(parts) > 1 and parts[0].endswith("."):
        parts.pop(0)
    return parts[0] if parts else ""


def person_context(person: Person) -> Context:
    return {"name": person.name, "first_name": first_name(person.name), "email": person.email}


def recipient_context(person: Person) -> Context:
    return {**person_context(person), "role": str(person.role)}


def program_context(program: Program) -> Context:
    return {
        "name": program.name,
        "months": program.months,
        "start": program.start,
        "end": term_end(program.start, program.months),
        "timezone": program.timezone,
        "locale": program.locale,
        "coordinators": list(program.coordinators),
        "nudge_after_days": program.nudge_after_days,
        "escalate_after_days": program.escalate_after_days,
    }


def pair_context(pair: Pair, program: Program, *, month: int,
                 goals: Iterable[GoalStatus]) -> Context:
    start = pair.start_date(program)
    return {
        "id": pair.pair_id,
        "start": start,
        "end": term_end(start, program.months),
        "month": month,
        "mentor": person_context(pair.mentor),
        "mentee": person_context(pair.mentee),
        "liaison": person_context(pair.liaison),
        "goals": list(goals),
    }


def base_context(program: Program, recipient: Person, sent_on: date, kind: str,
                 *, term_ended: bool = False) -> Context:
    """What every email gets: program, recipient, sent_on, reply_keywords."""
    return {
        "program": program_context(program),
        # times are shown in the recipient's own zone, else the program's
        "recipient": {**recipient_context(recipient),
                      "timezone": recipient.timezone or program.timezone},
        "sent_on": sent_on,
        "reply_keywords": reply_keywords(kind, recipient.role, term_ended=term_ended),
    }


def pair_email_context(program: Program, pair: Pair, recipient: Person, sent_on: date,
                       kind: str, *, month: int, goals: Iterable[GoalStatus],
                       term_ended: bool = False) -> Context:
    """``base_context`` plus ``pair`` and ``partner`` (None when the recipient is the liaison)."""
    partner = {pair.mentor.email: pair.mentee, pair.mentee.email: pair.mentor}.get(recipient.email)
    return {
        **base_context(program, recipient, sent_on, kind, term_ended=term_ended),
        "pair": pair_context(pair, program, month=month, goals=goals),
        "partner": person_context(partner) if partner else None,
    }
