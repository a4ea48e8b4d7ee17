"""`mailflow status`: each pair's state, last check-in and open escalations."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from mailflow.config import Settings
from mailflow.domain.history import PairHistory, build_history
from mailflow.domain.model import Escalation, Event, PairState, Program
from mailflow.domain.schedule import term_end
from mailflow.repository import PairRecord, Repository


def pair_state(rec: PairRecord, history: PairHistory, program: Program, today: date) -> PairState:
    """The state a coordinator sees: stored end states first, then the calendar, then pauses."""
    if rec.state in (PairState.ENDED, PairState.ENDING):
        return rec.state
    if history.state == PairState.ENDING:
        return PairState.ENDING
    if today >= term_end(rec.pair.start_date(program), program.months):
        return PairState.COMPLETED
    people = [p.email for p in rec.pair.participants]
    if all(history.paused_until(email, today) for email in people):
        return PairState.PAUSED
    return PairState.ACTIVE


def histories(repo: Repository, program: Program) -> dict[str, PairHistory]:
    """Every pair's history, built from the stored events and escalations in one pass."""
    events: dict[str, list[Event]] = defaultdict(list)
    for event in repo.events():
        events[event.pair_id].append(event)
    escalations: dict[str, list[Escalation]] = defaultdict(list)
    for esc in repo.escalations():
        escalations[esc.pair_id].append(esc)
    result = {}
    for pair_id, rec in repo.pairs().items():
        ended_at = rec.state_since.date() if rec.state == PairState.ENDED and rec.state_since \
            else None
        result[pair_id] = build_history(
            events[pair_id], timezone=program.timezone, escalations=escalations[pair_id],
            state=rec.state if rec.state != PairState.ACTIVE else None, ended_at=ended_at,
        )
    return result


def quiet_days(rec: PairRecord, history: PairHistory, program: Program, today: date) -> int:
    anchor = max([rec.pair.start_date(program), *history.met_dates])
    return max(0, (today - anchor).days)


def program_status(settings: Settings, repo: Repository, now: datetime) -> dict[str, Any]:
    program = settings.program_model()
    today = now.astimezone(ZoneInfo(program.timezone)).date()
    hist = histories(repo, program)
    open_by_pair = Counter(e.pair_id for e in repo.escalations() if e.resolved_at is None)
    rows = []
    for pair_id, rec in sorted(repo.pairs().items()):
        h = hist[pair_id]
        rows.append({
            "pair_id": pair_id,
            "state": str(pair_state(rec, h, program, today)),
            "last_met": h.met_dates[-1].isoformat() if h.met_dates else None,
            "quiet_days": quiet_days(rec, h, program, today),
            "open_escalations": open_by_pair[pair_id],
        })
    outbox = Counter(str(e.status) for e in repo.outbox())
    counts = {
        "pairs": len(rows),
        **{f"pairs_{state}": n for state, n in Counter(r["state"] for r in rows).items()},
        "open_escalations": sum(open_by_pair.values()),
        **{f"outbox_{status}": n for status, n in sorted(outbox.items())},
        "events": len(repo.events()),
    }
    health = repo.meta("health")
    return {
        "pairs": rows,
        "counts": counts,
        "health": {
            "last_send_pass": health.get("last_send_pass"),
            "last_poll": health.get("last_poll"),
            "last_error": health.get("last_error"),
        },
    }


def render_status(result: dict[str, Any]) -> str:
    rows = result["pairs"]
    lines = []
    if rows:
        header = ("PAIR", "STATE", "LAST MET", "QUIET DAYS", "OPEN ESCALATIONS")
        table = [header] + [
            (r["pair_id"], r["state"], r["last_met"] or "never", str(r["quiet_days"]),
             str(r["open_escalations"]))
            for r in rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                  for row in table]
    else:
        lines.append("no pairs yet: import a roster with `mailflow roster import FILE.csv`")
    lines.append("")
    lines.append("counts: " + ", ".join(f"{k} {v}" for k, v in result["counts"].items()))
    health = result["health"]
    lines.append(f"last send pass: {health['last_send_pass'] or 'never'}; "
                 f"last poll: {health['last_poll'] or 'never'}")
    if health["last_error"]:
        lines.append(f"last error: {health['last_error']}")
    return "\n".join(lines)
