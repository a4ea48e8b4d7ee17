"""The store: records survive, commits are atomic, a SIGKILL never corrupts it."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailflow.adapters.store import TinyDBStore
from mailflow.errors import StoreError

CHILD = r"""
import sys
from pathlib import Path
from mailflow.adapters.store import TinyDBStore

path = Path(sys.argv[1])
store = TinyDBStore(path, compact_after_bytes=int(sys.argv[2]))
counter = store.get("meta", "counter")
n = counter["n"] if counter else 0
sync = sys.argv[3] if len(sys.argv) > 3 else "now"
print("ready", flush=True)
while True:
    n += 1
    with store.transaction(sync=sync):
        # three records that must appear together or not at all
        store.put("events", {"id": f"e{n}", "n": n, "text": "x" * (n % 50)})
        store.put("outbox", {"id": f"o{n}", "n": n, "status": "sent"})
        store.put("meta", {"id": "counter", "n": n})
    print(n, flush=True)  # the commit has returned
"""


def _check_consistent(path: Path) -> int:
    store = TinyDBStore(path)
    try:
        counter = store.get("meta", "counter")
        n = counter["n"] if counter else 0
        events, outbox = store.all("events"), store.all("outbox")
        assert set(events) == {f"e{i}" for i in range(1, n + 1)}
        assert set(outbox) == {f"o{i}" for i in range(1, n + 1)}
        return n
    finally:
        store.close()


def test_records_round_trip_and_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    store = TinyDBStore(path)
    with store.transaction():
        store.put("pairs", {"id": "p1", "name": "Zoë Ñúñez"})
        store.put("events", {"id": "e1", "type": "met"})
    store.put("pairs", {"id": "p1", "name": "Zoë Ñúñez-García"})
    store.delete("events", "e1")
    store.close()
    store = TinyDBStore(path)
    assert dict(store.all("pairs")) == {"p1": {"id": "p1", "name": "Zoë Ñúñez-García"}}
    assert dict(store.all("events")) == {}
    store.compact()
    store.close()
    reopened = TinyDBStore(path, readonly=True)
    assert reopened.get("pairs", "p1") == {"id": "p1", "name": "Zoë Ñúñez-García"}
    assert reopened.get("meta", "schema")["version"] == 1


def test_store_file_is_private(tmp_path: Path) -> None:
    store = TinyDBStore(tmp_path / "m.json")
    store.put("pairs", {"id": "p1"})
    store.close()
    for name in ("m.json", "m.json.journal"):
        if (tmp_path / name).exists():
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_a_torn_last_journal_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    TinyDBStore(path).close()  # an empty snapshot exists; later commits go to the journal
    store = TinyDBStore(path, compact_after_bytes=1 << 30)
    store.put("events", {"id": "e1"})
    store.put("events", {"id": "e2"})
    store.close()
    journal = path.with_name("m.json.journal")
    data = journal.read_bytes()
    journal.write_bytes(data[: len(data) - 5])  # the second commit is cut short
    store = TinyDBStore(path)
    assert set(store.all("events")) == {"e1"}
    store.put("events", {"id": "e3"})
    store.close()
    assert set(TinyDBStore(path, readonly=True).all("events")) == {"e1", "e3"}


def test_a_corrupt_snapshot_is_reported_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text("{not json")
    with pytest.raises(StoreError, match="not valid JSON"):
        TinyDBStore(path)
    assert path.read_text() == "{not json"


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"meta": {"1": {"id": "schema", "version": 99}}}))
    with pytest.raises(StoreError, match="newer mailflow"):
        TinyDBStore(path)


def test_a_second_writer_is_refused_while_the_first_holds_the_store(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    first = TinyDBStore(path)
    with pytest.raises(StoreError, match="another mailflow process"):
        TinyDBStore(path, wait_seconds=0.2)
    with pytest.raises(StoreError, match="another mailflow process"):
        TinyDBStore(path, readonly=True, wait_seconds=0.2)
    first.close()
    TinyDBStore(path, readonly=True, wait_seconds=0.2).close()  # free again


def test_backup_is_one_file_that_opens_as_a_store(tmp_path: Path) -> None:
    store = TinyDBStore(tmp_path / "m.json")
    store.put("pairs", {"id": "p1", "x": 1})
    store.backup(tmp_path / "backup.json")
    store.close()
    restored = TinyDBStore(tmp_path / "backup.json")
    assert restored.get("pairs", "p1") == {"id": "p1", "x": 1}
    restored.close()


def _kill_while_writing(script: Path, path: Path, threshold: int, sync: str,
                        after: float) -> list[int]:
    """Run a writer, SIGKILL it ``after`` seconds in; the commits it saw return."""
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path), str(threshold), sync],
        stdout=subprocess.PIPE, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(after)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    returned = [int(line) for line in proc.stdout.read().split()]
    proc.stdout.close()
    return returned


@pytest.mark.parametrize("sync,kills", [("now", 200), ("background", 50)])
def test_sigkill_at_any_moment_leaves_a_loadable_consistent_store(
    tmp_path: Path, sync: str, kills: int
) -> None:
    """Real processes killed mid-write; every time the store loads and is whole, and
    holds every commit that returned -- also those that return before their fsync
    (``sync="background"``, for the record of an email just sent)."""
    path = tmp_path / "m.json"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    rng = random.Random(20261123)
    last = 0
    for i in range(kills):
        # a small compaction threshold so kills also land inside snapshot rewrites
        threshold = 4096 if i % 2 else 1 << 30
        returned = _kill_while_writing(script, path, threshold, sync, rng.uniform(0.0, 0.04))
        n = _check_consistent(path)
        assert n >= last, "a committed transaction was lost"
        assert not returned or n >= returned[-1], "a commit that returned was lost"
        last = n
    assert last > kills, "the child should have committed many transactions"


def test_close_waits_for_the_background_fsync(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    store = TinyDBStore(path)
    for n in range(1, 201):
        with store.transaction(sync="background"):
            store.put("events", {"id": f"e{n}", "n": n})
    store.close()
    assert store._syncer._covered == store._syncer._requested == 200
    reopened = TinyDBStore(path, readonly=True)
    assert len(reopened.all("events")) == 200
    reopened.close()
