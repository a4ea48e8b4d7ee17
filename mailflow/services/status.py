"""`mailflow status`: each pair's state, last check-in and open escalations."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from mailflow.config import Settings
from mailflow.domain.history import PairHistory
from mailflow.domain.model import PairState, Program
from mailflow.domain.schedule import quiet_from, term_end
from mailflow.repository import PairRecord, Repository
from mailflow.services.state import ProgramState


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


def paused_people(rec: PairRecord, history: PairHistory, today: date) -> list[dict[str, str]]:
    """Who of the pair is paused today, and until when (a person's own pause shows even
    while the pair is active)."""
    paused = []
    for person in rec.pair.participants:
        until = history.paused_until(person.email, today)
        if until is not None:
            paused.append({"person": person.email, "role": str(person.role),
                           "until": until.isoformat()})
    return paused


def quiet_days(rec: PairRecord, history: PairHistory, program: Program, today: date) -> int:
    anchor = max([quiet_from(program, rec.pair.start_date(program), history), *history.met_dates])
    return max(0, (today - anchor).days)


def program_status(settings: Settings, repo: Repository, now: datetime) -> dict[str, Any]:
    state = ProgramState.load(repo, settings.program_model(), now)
    program, today = state.program, state.today
    open_by_pair = Counter(e.pair_id for e in state.open_escalations())
    rows = []
    for pair_id, rec in sorted(state.pairs.items()):
        h = state.histories[pair_id]
        rows.append({
            "pair_id": pair_id,
            "state": str(pair_state(rec, h, program, today)),
            "last_met": h.met_dates[-1].isoformat() if h.met_dates else None,
            "quiet_days": quiet_days(rec, h, program, today),
            "open_escalations": open_by_pair[pair_id],
            "paused": paused_people(rec, h, today),
        })
    outbox = Counter(str(e.status) for e in state.outbox)
    counts = {
        "pairs": len(rows),
        **{f"pairs_{s}": n for s, n in Counter(r["state"] for r in rows).items()},
        "open_escalations": sum(open_by_pair.values()),
        **{f"outbox_{status}": n for status, n in sorted(outbox.items())},
        "events": sum(len(events) for events in state.events_by_pair.values()),
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
            (r["pair_id"], _state_text(r), r["last_met"] or "never", str(r["quiet_days"]),
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


def _state_text(row: dict[str, Any]) -> str:
    """``active (mentee zoe@lib.example paused until 2027-03-01)``."""
    paused = row.get("paused") or []
    if row["state"] != "active" or not paused:
        return str(row["state"])
    who = ", ".join(f"{p['role']} {p['person']} paused until {p['until']}" for p in paused)
    return f"{row['state']} ({who})"
