"""Pass reports stay short in repr: asyncio.run (3.11) reprs its coroutine's result twice
(when it restores the SIGINT handler), so a report that printed its entries and the
program state cost seconds at the end of every large pass."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from mailflow.domain.model import Kind, OutboxEntry
from mailflow.services.dispatch import SendReport
from mailflow.services.poller import PollReport


def _entries(n: int) -> list[OutboxEntry]:
    now = datetime(2026, 9, 1, tzinfo=UTC)
    return [OutboxEntry(f"P{i}/ack/x/p{i}@example.org", f"P{i}", f"p{i}@example.org", "mentee",
                        Kind.ACK, "x", now, f"<{i}@example.org>") for i in range(n)]


def test_a_send_report_shows_counts_not_entries() -> None:
    entries = _entries(5000)
    report = SendReport(recorded=5000, skipped=entries, sent=[e.key for e in entries],
                        would_send=entries)
    text = repr(report)
    assert "sent=5000" in text and "skipped=5000" in text and "recorded=5000" in text
    assert len(text) < 300


def test_a_poll_report_shows_counts_not_entries() -> None:
    report = PollReport(outcomes=Counter(reply=5000), queued=_entries(5000))
    text = repr(report)
    assert "queued=5000" in text and "'reply': 5000" in text
    assert len(text) < 300
