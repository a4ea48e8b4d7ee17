"""`mailflow outbox retry` (and the web console's button): failed emails sent again.

An email the server refused for good (5xx) is `failed` and no pass sends it.
Once the cause is fixed (a corrected server setting, a fixed address), a
coordinator puts it back to `pending`; the next send pass sends it under the
same outbox key and the same Message-ID, so it is still sent at most once.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from mailflow.app import App
from mailflow.domain.model import OutboxEntry, OutboxStatus
from mailflow.errors import MailflowError

log = logging.getLogger("mailflow.outbox")


def failed_emails(app: App, *, kind: str | None = None, pair_id: str | None = None,
                  key: str | None = None) -> list[OutboxEntry]:
    """The failed emails that match every filter given, oldest first."""
    with app.repository(readonly=True) as repo:
        if key is not None:
            entry = repo.outbox_entry(key)
            if entry is None:
                raise MailflowError(f"no email with the key {key!r} in the outbox "
                                    "(`mailflow export outbox` lists the keys)")
            if entry.status != OutboxStatus.FAILED:
                raise MailflowError(f"{key} is {entry.status}, not failed: only failed "
                                    "emails are sent again")
            entries = [entry]
        else:
            entries = repo.outbox_with_status(OutboxStatus.FAILED)
    chosen = [e for e in entries if (kind is None or str(e.kind) == kind)
              and (pair_id is None or e.pair_id == pair_id)]
    return sorted(chosen, key=lambda e: (e.due_at, e.key))


def retry_failed(app: App, *, kind: str | None = None, pair_id: str | None = None,
                 key: str | None = None) -> list[OutboxEntry]:
    """Put the matching failed emails back to pending (their key, Message-ID and last
    error kept); the next send pass sends them. Returns them as they now are."""
    chosen = failed_emails(app, kind=kind, pair_id=pair_id, key=key)
    retried: list[OutboxEntry] = []
    if not chosen:
        return retried
    with app.repository() as repo, repo.transaction():
        for entry in chosen:
            current = repo.outbox_entry(entry.key)  # as stored now, not as read above
            if current is None or current.status != OutboxStatus.FAILED:
                continue
            again = replace(current, status=OutboxStatus.PENDING, next_attempt_at=None)
            repo.put_outbox(again)
            retried.append(again)
            log.info("outbox key=%s back to pending (was failed: %s)", again.key,
                     again.last_error)
    return retried
