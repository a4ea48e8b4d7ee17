"""Coordinator actions on a pair: pause, resume, end."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from mailflow.app import App
from mailflow.domain.effects import short_hash
from mailflow.domain.history import DEFAULT_PAUSE_DAYS
from mailflow.domain.model import Event, EventType, PairState, Role
from mailflow.errors import MailflowError, UnknownPairError
from mailflow.repository import PairRecord, Repository


def _pair(repo: Repository, pair_id: str) -> PairRecord:
    rec = repo.pair(pair_id)
    if rec is None:
        known = ", ".join(sorted(repo.pairs())[:10]) or "none yet"
        raise UnknownPairError(f"no pair {pair_id!r} in the roster (pairs: {known})")
    return rec


def _coordinator_event(app: App, rec: PairRecord, kind: EventType, day: date | None,
                       text: str) -> None:
    """Record a coordinator's action as an event for the whole pair."""
    now = app.clock.now()
    event = Event(now, rec.pair_id, "", str(Role.COORDINATOR), kind, day, text, "")
    with app.repository() as repo:
        repo.add_event(f"coord-{short_hash(now.isoformat() + rec.pair_id + kind)}", event)


def pause_pair(app: App, pair_id: str, until: date | None) -> date:
    with app.repository(readonly=True) as repo:
        rec = _pair(repo, pair_id)
    today = app.clock.now().date()
    until_day = until or today + timedelta(days=DEFAULT_PAUSE_DAYS)
    if until_day <= today:
        raise MailflowError(f"--until {until_day} is not in the future")
    _coordinator_event(app, rec, EventType.PAUSE, until_day, "paused by a coordinator")
    return until_day


def resume_pair(app: App, pair_id: str) -> None:
    with app.repository(readonly=True) as repo:
        rec = _pair(repo, pair_id)
    _coordinator_event(app, rec, EventType.RESUME, None, "resumed by a coordinator")


def end_pair(app: App, pair_id: str, reason: str) -> None:
    now = app.clock.now()
    with app.repository() as repo:
        rec = _pair(repo, pair_id)
        with repo.transaction():
            repo.put_pair(replace(rec, state=PairState.ENDED, state_since=now))
            for esc in repo.escalations():
                if esc.pair_id == pair_id and esc.resolved_at is None \
                        and esc.reason == "end_request":
                    repo.put_escalation(replace(esc, resolved_at=now))
            repo.add_event(f"coord-end-{pair_id}", Event(
                now, pair_id, "", str(Role.COORDINATOR), EventType.RESOLVED, None,
                reason or "match ended by a coordinator", ""))
