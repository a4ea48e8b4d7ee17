"""When digests fall due: the latest occurrence of `[schedule].digest` that has passed.

Pure, like the planner: only the latest occurrence that has passed is planned,
never one before the program starts; missed older occurrences are not sent.
Whether a digest due is worth sending is `mailflow.services.attention`'s call.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from mailflow.domain.calendar import PlannedEmail, require_aware
from mailflow.domain.keys import NO_PAIR, outbox_key
from mailflow.domain.model import Kind, Person, Program, Role


def latest_digest_at(program: Program, now: datetime) -> datetime:
    """The latest digest occurrence at or before `now`, in the program's zone."""
    zone = ZoneInfo(program.timezone)
    day = now.astimezone(zone).date()
    step = 1 if program.digest_weekday < 0 else 7
    if step == 7:
        day -= timedelta(days=(day.weekday() - program.digest_weekday) % 7)
    occurrence = datetime.combine(day, program.digest_time, tzinfo=zone)
    if occurrence > now:
        occurrence = datetime.combine(day - timedelta(days=step), program.digest_time, tzinfo=zone)
    return occurrence


def digests_due(
    program: Program,
    liaisons: Iterable[Person],
    now: datetime,
    existing_keys: AbstractSet[str],
) -> list[PlannedEmail]:
    """The latest passed digest for each liaison and each coordinator, unless already planned."""
    require_aware(now, "now")
    occurrence = latest_digest_at(program, now)
    if occurrence.date() < program.start:
        return []
    recipients = {p.email.lower(): Role.LIAISON for p in liaisons}
    recipients.update({c.lower(): Role.COORDINATOR for c in program.coordinators})
    period = occurrence.date().isoformat()
    due: list[PlannedEmail] = []
    for email, role in recipients.items():
        key = outbox_key(NO_PAIR, Kind.DIGEST, period, email)
        if key not in existing_keys:
            due.append(PlannedEmail(key, NO_PAIR, email, role, Kind.DIGEST, period, occurrence))
    return due
