"""The keywords about the pair's goals: GOAL."""

from __future__ import annotations

from mailflow.domain.effects import Decision
from mailflow.domain.keywords.base import Command, ParticipantKeyword, register
from mailflow.domain.model import EventType


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
