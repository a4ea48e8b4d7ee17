"""Outbox entry + program state -> the template and render context it needs.

The variables are the contract in docs/templates.md; the shared parts come
from `mailflow.render.context`, the kind-specific ones are added here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from mailflow.domain.keys import NO_PAIR
from mailflow.domain.model import Kind, OutboxEntry, Person, Role
from mailflow.domain.schedule import REMINDER_PERIOD, quiet_from
from mailflow.errors import TemplateError
from mailflow.render.context import (
    Context,
    base_context,
    pair_email_context,
    person_context,
)
from mailflow.render.engine import Renderer, template_for
from mailflow.repository import PairRecord
from mailflow.services.digest import digest_context
from mailflow.services.state import ProgramState


@dataclass(frozen=True)
class Addressed:
    template: str
    recipient: Person
    context: Context
    given: tuple[str, str] | None = None  # (source, file name): a template given as text


def given_template(entry: OutboxEntry) -> tuple[str, str] | None:
    """An announcement's template, kept with each of its outbox entries (its source
    and the file name errors show), so it is sent as it was checked."""
    if entry.kind != Kind.ANNOUNCEMENT:
        return None
    source = entry.context.get("source")
    if not isinstance(source, str):
        raise MissingContext(f"announcement {entry.period} has no template text")
    return source, str(entry.context.get("file") or "announcement.md")


class MissingContext(Exception):
    """The entry refers to something the store no longer has (a removed pair...)."""


def _recipient(state: ProgramState, entry: OutboxEntry) -> Person:
    if entry.pair_id != NO_PAIR:
        rec = state.pairs.get(entry.pair_id)
        person = rec.pair.person(entry.person) if rec else None
        if person is None:
            raise MissingContext(f"{entry.person} is not in pair {entry.pair_id} any more")
        return person
    if entry.role == Role.LIAISON:
        for rec in state.pairs.values():
            if rec.pair.liaison.email == entry.person:
                return rec.pair.liaison
    return Person("", entry.person, Role(entry.role))


def _month(entry: OutboxEntry, state: ProgramState, rec: PairRecord) -> int:
    if entry.context.get("joined_month"):
        return int(entry.context["joined_month"])
    if entry.period.startswith("m") and entry.period[1:].isdigit():
        return int(entry.period[1:])
    local_day = entry.due_at.astimezone(state.now.tzinfo).date()
    return state.month_of(rec, local_day)


def _quiet_anchor(state: ProgramState, rec: PairRecord) -> date:
    """The later of the pair's last MET and its start (or the day it joined mid-term)."""
    history = state.histories[rec.pair_id]
    start = quiet_from(state.program, rec.pair.start_date(state.program), history)
    return max([start, *history.met_dates])


def _topic(state: ProgramState, month: int) -> Context | None:
    topic = state.program.topic_for(month)
    return None if topic is None else {"month": month, "title": topic.title, "body": topic.body}


def _pair_extras(entry: OutboxEntry, state: ProgramState, rec: PairRecord,
                 month: int) -> Context:
    kind = entry.kind
    if kind == Kind.INTRO:
        return {"topic": _topic(state, month), "joining": bool(entry.context.get("joining"))}
    if kind in (Kind.TOPIC, Kind.CLOSING):
        return {"topic": _topic(state, month)}
    if kind == Kind.NUDGE:
        anchor = _quiet_anchor(state, rec)
        return {"quiet_days": (entry.due_at.date() - anchor).days,
                "last_met": state.last_met(rec.pair_id)}
    if kind == Kind.ACK:
        return {key: list(entry.context.get(key, []))
                for key in ("recorded", "ignored", "read_lines")}
    if kind == Kind.ESCALATION:
        return _escalation_extras(entry, state, rec)
    return {}


def _escalation_extras(entry: OutboxEntry, state: ProgramState, rec: PairRecord) -> Context:
    esc_id = entry.context.get("escalation_id", "")
    esc = state.escalation(esc_id)
    if esc is None:
        raise MissingContext(f"escalation {esc_id!r} is not in the store")
    reporter_email = entry.context.get("reporter")
    reporter = rec.pair.person(reporter_email) if reporter_email else None
    quiet_days = None
    if str(esc.reason) == "quiet":
        anchor = _quiet_anchor(state, rec)
        quiet_days = (entry.due_at.date() - anchor).days
    return {
        "escalation": {"id": esc.id, "reason": str(esc.reason), "text": esc.text,
                       "opened_at": esc.opened_at},
        "reporter": {**person_context(reporter), "role": str(reporter.role)} if reporter else None,
        "quiet_days": quiet_days,
    }


def _liaison_welcome(entry: OutboxEntry, state: ProgramState, who: Person) -> Context:
    pairs = [
        {"pair_id": r.pair_id, "mentor": person_context(r.pair.mentor),
         "mentee": person_context(r.pair.mentee), "start": r.pair.start_date(state.program)}
        for r in sorted(state.pairs.values(), key=lambda r: r.pair_id)
        if r.pair.liaison.email == who.email and r.in_roster
    ]
    return {"pairs": pairs}


def _alert(entry: OutboxEntry, state: ProgramState, who: Person) -> Context:
    since = entry.context.get("since")
    return {
        "problem": entry.context.get("problem", ""),
        "since": datetime.fromisoformat(since) if since else None,
        "recovered": bool(entry.context.get("recovered", False)),
        "details": list(entry.context.get("details", [])),
    }


_PROGRAM_EXTRAS: dict[Kind, Callable[[OutboxEntry, ProgramState, Person], Context]] = {
    Kind.LIAISON_WELCOME: _liaison_welcome,
    Kind.ALERT: _alert,
    Kind.DIGEST: digest_context,
}


def build(entry: OutboxEntry, state: ProgramState) -> Addressed:
    """The template name, recipient and full context for one outbox entry."""
    who = _recipient(state, entry)
    sent_on = entry.due_at.date()
    given = given_template(entry)
    if entry.pair_id == NO_PAIR and given is not None:  # an announcement to a liaison
        plain = base_context(state.program, who, sent_on, str(entry.kind))
        return Addressed(str(entry.kind), who, {**plain, "pair": None, "partner": None}, given)
    if entry.pair_id == NO_PAIR:
        extras = _PROGRAM_EXTRAS[entry.kind](entry, state, who)
        role = "coordinator" if who.role == Role.COORDINATOR else str(who.role)
        template = "digest_coordinator" if entry.kind == Kind.DIGEST and role == "coordinator" \
            else template_for(str(entry.kind), role)
        return Addressed(template, who,
                         {**base_context(state.program, who, sent_on, str(entry.kind)), **extras})
    rec = state.pairs[entry.pair_id]
    month = _month(entry, state, rec)
    context: dict[str, Any] = pair_email_context(
        state.program, rec.pair, who, sent_on, str(entry.kind), month=month,
        goals=state.goals(rec.pair_id), term_ended=state.term_ended(rec, sent_on),
    )
    if given is not None:  # an announcement: its template is its own text
        return Addressed(str(entry.kind), who, context, given)
    template = template_for(str(entry.kind), str(who.role))
    if entry.kind == Kind.FEEDBACK and entry.period == REMINDER_PERIOD:
        template = "feedback_reminder"
    context.update(_pair_extras(entry, state, rec, month))
    return Addressed(template, who, context)


def sent_text(renderer: Renderer, state: ProgramState, entry: OutboxEntry) -> str:
    """The text part of the email sent for this entry, rendered again from the state (""
    when it no longer can be): what a reply to it quotes, marked or not."""
    try:
        addressed = build(entry, state)
        if addressed.given is not None:
            return renderer.render_given(*addressed.given, addressed.context).text
        return renderer.render(addressed.template, addressed.context).text
    except (MissingContext, TemplateError, KeyError, ValueError):
        return ""
