"""When the coordinators must hear that something is broken — once — and that it recovered.

The health record in the store says when polling or sending started failing
and whether the coordinators were told. An alert goes out when polling has
failed for `[schedule].alert_after_minutes`, or as soon as a send pass could
not reach the server; one "recovered" email follows the first success.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mailflow.domain.keys import NO_PAIR, message_id, outbox_key
from mailflow.domain.model import Kind, OutboxEntry

HEALTH = "health"

_PROBLEMS = {
    "poll": "Polling the mailbox has been failing",
    "send": "Sending mail has been failing",
    "oauth": "Signing in to the mailbox with OAuth 2.0 has been failing",
}


def _alert_entries(coordinators: tuple[str, ...], domain: str, now: datetime, channel: str,
                   since: str, recovered: bool, error: str) -> list[OutboxEntry]:
    period = f"{channel}-{'recovered' if recovered else 'down'}-{since}"
    entries = []
    for coordinator in coordinators:
        key = outbox_key(NO_PAIR, str(Kind.ALERT), period, coordinator)
        context: dict[str, Any] = {
            "problem": _PROBLEMS[channel], "since": since, "recovered": recovered,
            "details": [] if recovered else [error],
        }
        entries.append(OutboxEntry(key, NO_PAIR, coordinator, "coordinator", Kind.ALERT,
                                   period, now, message_id(key, domain), context=context))
    return entries


def update(health: dict[str, Any], channel: str, now: datetime, error: str | None, *,
           alert_after: timedelta, coordinators: tuple[str, ...],
           domain: str) -> tuple[dict[str, Any], list[OutboxEntry]]:
    """The new health record after a pass of `channel` ("poll"/"send"), and alerts to queue."""
    failing_key, alerted_key = f"{channel}_failing_since", f"{channel}_alerted"
    since = health.get(failing_key)
    alerted = bool(health.get(alerted_key))
    changes: dict[str, Any] = {}
    alerts: list[OutboxEntry] = []
    if error is None:
        if since and alerted:
            alerts = _alert_entries(coordinators, domain, now, channel, since, True, "")
        changes = {failing_key: None, alerted_key: False, f"last_{channel}": now.isoformat()}
        if channel == "send":
            changes["last_send_pass"] = now.isoformat()
    else:
        since = since or now.isoformat()
        changes = {failing_key: since, "last_error": f"{now.isoformat()} {channel}: {error}"}
        overdue = (now - datetime.fromisoformat(since) >= alert_after
                   or channel in ("send", "oauth"))
        if overdue and not alerted:
            alerts = _alert_entries(coordinators, domain, now, channel, since, False, error)
            changes[alerted_key] = True
    return changes, alerts


def emails_error(now: datetime, failed: list[tuple[str, str]], blocked: str) -> str | None:
    """`last_error` for a pass that reached the server but could not send some emails."""
    if blocked:
        return f"{now.isoformat()} send: {blocked}: {failed[0][1] if failed else ''}".rstrip(": ")
    if not failed:
        return None
    key, error = failed[-1]
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return f"{now.isoformat()} send: {len(failed)} email(s) failed: {key}: {error}{more}"


def problem_alerts(coordinators: tuple[str, ...], domain: str, now: datetime, problem: str,
                   details: list[str], period: str) -> list[OutboxEntry]:
    """One alert per coordinator about a problem that is not an outage (a refused
    config reload, say); ``period`` makes the key: the same period is alerted once."""
    entries = []
    for coordinator in coordinators:
        key = outbox_key(NO_PAIR, str(Kind.ALERT), period, coordinator)
        context: dict[str, Any] = {"problem": problem, "since": now.isoformat(),
                                   "recovered": False, "details": details}
        entries.append(OutboxEntry(key, NO_PAIR, coordinator, "coordinator", Kind.ALERT,
                                   period, now, message_id(key, domain), context=context))
    return entries
