"""`mailflow plan`: what will be sent, to whom, when — without sending or recording."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mailflow.app import App
from mailflow.domain.calendar import plan
from mailflow.domain.digests import digests_due, latest_digest_at
from mailflow.domain.model import OutboxStatus
from mailflow.services.state import ProgramState


def forecast(app: App, days: int) -> list[dict[str, Any]]:
    """Planned mail up to `days` ahead, plus stored mail still waiting to be sent."""
    now = app.clock.now()
    until = now + timedelta(days=days)
    program = app.settings.program_model()
    with app.repository(readonly=True) as repo:
        state = ProgramState.load(repo, program, now)
        keys = repo.outbox_keys()
    pairs = [r.pair for r in state.active_pairs()]
    planned = plan(program, pairs, state.histories, keys, now, until)
    liaisons = {r.pair.liaison.email: r.pair.liaison for r in state.pairs.values()
                if r.in_roster}
    step = timedelta(days=1 if program.digest_weekday < 0 else 7)
    occurrence = latest_digest_at(program, until)
    while occurrence > now:  # every digest occurrence in the window, newest first
        planned += digests_due(program, liaisons.values(), occurrence, keys)
        occurrence -= step
    rows = [
        {"key": p.key, "pair_id": p.pair_id, "person": p.person, "role": str(p.role),
         "kind": str(p.kind), "due_at": p.due_at.isoformat(), "status": str(p.status),
         "note": p.reason}
        for p in planned
    ]
    rows += [
        {"key": e.key, "pair_id": e.pair_id, "person": e.person, "role": e.role,
         "kind": str(e.kind), "due_at": (e.next_attempt_at or e.due_at).isoformat(),
         "status": "retry" if e.attempts else "pending",
         "note": e.last_error}
        for e in state.outbox if e.status == OutboxStatus.PENDING
    ]
    # by the instant, not the text: "08:00-06:00" comes after "02:00-06:00" and "09:00+01:00"
    rows.sort(key=lambda r: (datetime.fromisoformat(r["due_at"]), r["key"]))
    return rows


def render_forecast(rows: list[dict[str, Any]], timezone: str, days: int) -> str:
    if not rows:
        return f"nothing is due in the next {days} days"
    zone = ZoneInfo(timezone)
    header = ("WHEN (" + timezone + ")", "KIND", "TO", "PAIR", "STATUS")
    table = [header]
    for r in rows:
        when = datetime.fromisoformat(r["due_at"]).astimezone(zone).strftime("%a %Y-%m-%d %H:%M")
        status = r["status"] + (f": {r['note']}" if r["note"] else "")
        table.append((when, r["kind"], f"{r['person']} ({r['role']})", r["pair_id"], status))
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    lines = ["  ".join([*(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)), row[4]])
             for row in table]
    lines.append(f"\n{len(rows)} email(s) in the next {days} days")
    return "\n".join(lines)
