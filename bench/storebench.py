"""The store figure: what recording one event costs, pass after pass.

A pass is what the poller does with one chunk: one transaction holding a
batch of events (one fsynced journal append). The journal is folded into a
new snapshot once it outgrows the snapshot, so a writer also pays, per event,
its share of one compaction: compaction time x journal bytes per event /
snapshot bytes. Opening the store is not part of it (the plan and memory
figures show that cost).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mailflow.adapters.store import TinyDBStore
from mailflow.domain.model import Event, EventType
from mailflow.repository import Repository

MOMENT = datetime(2030, 1, 1, 12, tzinfo=UTC)


def record_events(path: Path, passes: int, per_pass: int) -> dict[str, Any]:
    store = TinyDBStore(path)
    repo = Repository(store)
    try:
        pair_ids = sorted(store.all("pairs"))
        journal_start = store._journal_bytes
        snapshot_bytes = max(store._snapshot_bytes, 1)
        store.compact_after_bytes = 1 << 62  # compaction is timed on its own, below
        commit_seconds = 0.0
        n = 0
        for p in range(passes):
            events = []
            for i in range(per_pass):
                pair_id = pair_ids[n % len(pair_ids)]
                at = MOMENT + timedelta(seconds=n)
                events.append((f"<bench-{p}-{i}@client.example>#met#0", Event(
                    at, pair_id, f"mentor{n}@lib.example", "mentor",
                    EventType.MET, at.date(), "We met and talked about the topic.",
                    f"<bench-{p}-{i}@client.example>")))
                n += 1
            started = time.perf_counter()
            with repo.transaction():
                for event_id, event in events:
                    repo.add_event(event_id, event)
            commit_seconds += time.perf_counter() - started
        bytes_per_event = (store._journal_bytes - journal_start) / n
        started = time.perf_counter()
        store.compact()
        compact_seconds = time.perf_counter() - started
    finally:
        repo.close()
    share = compact_seconds * bytes_per_event / snapshot_bytes
    per_event = commit_seconds / n + share
    return {"seconds": per_event * n, "count": n, "per_event_us": per_event * 1e6,
            "commit_us": commit_seconds / n * 1e6, "compaction_share_us": share * 1e6,
            "compact_s": compact_seconds, "snapshot_mb": snapshot_bytes / 1e6,
            "journal_bytes_per_event": bytes_per_event}
