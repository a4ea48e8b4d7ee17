"""`mailflow export`: events, escalations and the outbox as JSON or CSV (SPEC section 7)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from mailflow.domain.model import (
    ESCALATION_EXPORT_FIELDS,
    EVENT_EXPORT_FIELDS,
    OUTBOX_EXPORT_FIELDS,
)
from mailflow.repository import Repository

FIELDS: dict[str, Sequence[str]] = {
    "events": EVENT_EXPORT_FIELDS,
    "escalations": ESCALATION_EXPORT_FIELDS,
    "outbox": OUTBOX_EXPORT_FIELDS,
}


def rows(repo: Repository, what: str) -> list[dict[str, Any]]:
    if what == "events":
        return [e.export() for e in repo.events()]
    if what == "escalations":
        return [e.export() for e in repo.escalations()]
    entries = sorted(repo.outbox(), key=lambda e: (e.due_at, e.key))
    return [e.export() for e in entries]


def _csv_safe(value: Any) -> Any:
    """Spreadsheets run cells that start with = + - @ as formulas: keep them text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def render(records: list[dict[str, Any]], what: str, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(records, indent=2, ensure_ascii=False)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(FIELDS[what]), lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _csv_safe(v) for k, v in record.items()})
    return out.getvalue()
