"""The keywords about the pair's goals: GOAL records one, DONE marks one reached."""

from __future__ import annotations

import re

from mailflow.domain.effects import Decision
from mailflow.domain.keywords.base import Command, ParticipantKeyword, register
from mailflow.domain.ledger import GoalStatus, goals
from mailflow.domain.model import EventType, Kind

# "2", "#2", "2." or "2: finally" -- a goal's number in the emails' list
_NUMBER_RE = re.compile(r"^#?\s*(\d+)(?=$|[\s.:;,!)–—-])")


@register
class Goal(ParticipantKeyword):
    name, words = "goal", ("GOAL",)
    help = ("record a goal for the mentorship, "
            "e.g. “GOAL present a poster at the state library conference”")

    def by_participant(self, d: Decision, cmd: Command) -> None:
        text = cmd.text.strip()
        if not text:
            d.ignore("GOAL without a goal: write the goal after the word GOAL")
            return
        d.event(EventType.GOAL, text)
        d.record(f"Goal: {text}")


@register
class Done(ParticipantKeyword):
    """Marks a recorded goal reached: by its number in the emails' list, or by its words."""

    name, words = "done", ("DONE",)
    help = "a goal is reached: its number in the list of your goals, or its words: “DONE 2”"

    @classmethod
    def shown_in(cls, kind: str, role: str, *, term_ended: bool) -> bool:
        return super().shown_in(kind, role, term_ended=term_ended) and kind in (
            Kind.TOPIC, Kind.CLOSING, "midpoint")

    def by_participant(self, d: Decision, cmd: Command) -> None:
        text = cmd.text.strip()
        current = goals(e for _, e in d.events_in_force())
        if not text:
            d.ignore("DONE without a goal: write the goal's number from the list in our "
                     "emails, or its words, after DONE")
            return
        found, why = find_goal(current, text)
        if found is None:
            d.ignore(f"DONE {_quote(text)}: {why}")
        elif found.reached:
            d.ignore(f"DONE: goal {found.number} ({_quote(found.text)}) is already marked "
                     "reached")
        else:
            d.event(EventType.GOAL_DONE, found.text, value=str(found.number), ref=found.ref)
            d.record(f"Goal {found.number} reached: {found.text}")


def find_goal(current: list[GoalStatus], text: str) -> tuple[GoalStatus | None, str]:
    """The goal ``text`` names (its number, or its words), else None and why not."""
    number = _NUMBER_RE.match(text)
    if number and 1 <= int(number.group(1)) <= len(current):
        return current[int(number.group(1)) - 1], ""
    only_a_number = number is not None and not _words(text[number.end():])
    matches = [] if only_a_number else _by_words(current, text)
    if len(matches) == 1:
        return matches[0], ""
    if matches:
        numbers = ", ".join(str(g.number) for g in matches)
        return None, f"it matches goals {numbers}: write the number of the one you reached"
    if not current:
        return None, "no goals are recorded yet; reply GOAL with one first"
    listed = "; ".join(f"{g.number}. {g.text}" for g in current)
    if number:
        return None, f"there is no goal {number.group(1)}; your goals: {listed}"
    return None, f"no recorded goal matches; your goals: {listed}"


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _by_words(current: list[GoalStatus], text: str) -> list[GoalStatus]:
    """The goals the words name: the same words, else one contained in the other, else
    the goals sharing most (at least half) of the words given."""
    given = " ".join(_words(text))
    if not given:
        return []
    same = [g for g in current if " ".join(_words(g.text)) == given]
    if same:
        return same
    inside = [g for g in current if _contains(g.text, given) or _contains(text, g.text)]
    if inside:
        return inside
    wanted = {w for w in _words(text) if len(w) > 2}
    shared = {g.number: len(wanted & set(_words(g.text))) for g in current}
    best = max(shared.values(), default=0)
    if not wanted or best * 2 < len(wanted):
        return []
    return [g for g in current if shared[g.number] == best]


def _contains(text: str, words: str) -> bool:
    """Whether ``words`` appear in ``text`` as whole words, in order."""
    return f" {' '.join(_words(words))} " in f" {' '.join(_words(text))} "


def _quote(text: str) -> str:
    line = text.splitlines()[0] if text else ""
    return f"“{line[:60]}{'…' if len(line) > 60 else ''}”"
