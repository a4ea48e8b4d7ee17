"""The embedded store: a TinyDB snapshot plus an append-only journal.

Crash safety without rewriting the whole file on every change:

* Each commit appends one line to ``<path>.journal`` -- the records it puts,
  with a sequence number and a checksum -- and fsyncs it. A process killed
  mid-append leaves a torn last line, which the next open ignores: the store
  then holds the state before that commit, or after it, never a mix.
  A commit with ``sync="background"`` (a pass recording each email it sent)
  returns once its line is written, which a killed process cannot lose; a
  background thread fsyncs the journal at once, one fsync covering every line
  written while the previous one ran, so a power cut can lose only the lines
  of the last few milliseconds. ``close`` waits for that fsync.
* When the journal has grown past the snapshot, the tables are written as a
  new TinyDB JSON snapshot (temporary file, fsync, rename, fsync of the
  folder) that records the last sequence number it contains; the journal is
  then emptied. Replaying a line twice is harmless: every operation puts a
  whole record under its id.

This is the only module that imports tinydb. Everything above it sees the
small ``Store`` protocol in ``mailflow.ports``.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage

from mailflow.errors import StoreError
from mailflow.ports import Sync

log = logging.getLogger("mailflow.store")

SCHEMA_VERSION = 1
TABLES = ("meta", "pairs", "outbox", "events", "escalations", "processed")
_MIN_JOURNAL_BYTES = 256 << 10  # small programs: keep the journal short to read

Record = dict[str, Any]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """Write a whole file so that a crash leaves either the old or the new one (mode 0600)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


class SnapshotStorage(Storage):
    """TinyDB storage that reads the snapshot once and writes it only on `flush`.

    Made by TinyDB itself (``TinyDB(path, storage=SnapshotStorage, empty=...)``, its
    documented way to plug in a storage): ``empty=True`` starts from no data
    instead of reading ``path`` (a backup about to be written there).
    """

    def __init__(self, path: str, *, empty: bool = False) -> None:
        self.path = Path(path)
        self._data: dict[str, dict[str, Any]] | None = None
        self._unread = not empty

    @classmethod
    def open(cls, path: Path, *, empty: bool = False) -> tuple[TinyDB, SnapshotStorage]:
        """A TinyDB over this storage, and the storage."""
        db = TinyDB(str(path), storage=cls, empty=empty)
        storage = db.storage
        assert isinstance(storage, SnapshotStorage)
        return db, storage

    def read(self) -> dict[str, dict[str, Any]] | None:
        if self._unread:
            self._unread = False
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                raw = b""
            try:
                self._data = json.loads(raw) if raw.strip() else None
            except ValueError as exc:
                raise StoreError(
                    f"{self.path}: the store file is not valid JSON ({exc}); "
                    "restore it from a backup"
                ) from None
        return self._data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self._data = data

    def flush(self) -> int:
        payload = json.dumps(self._data or {}, separators=(",", ":"), ensure_ascii=False)
        encoded = payload.encode("utf-8")
        write_atomically(self.path, encoded)
        return len(encoded)

    def close(self) -> None:
        pass


def _checksum(body: str) -> str:
    return format(zlib.crc32(body.encode("utf-8")), "08x")


class _JournalSyncer:
    """fsyncs a file in a background thread, as often as it is asked, one at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._changed = threading.Condition()
        self._requested = 0  # requests made, and the last one an fsync has covered
        self._covered = 0
        self._error: OSError | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        """fsync soon: what was written to the file before this call will be covered."""
        with self._changed:
            self._raise_error()
            self._requested += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="journal-fsync",
                                                daemon=True)
                self._thread.start()
            self._changed.notify_all()

    def wait(self) -> None:
        """Until every request so far is covered by an fsync; raises its error if any."""
        with self._changed:
            while self._covered < self._requested and self._error is None:
                self._changed.wait()
            self._raise_error()

    def stop(self) -> None:
        try:
            self.wait()
        finally:
            with self._changed:
                self._stopping = True
                self._changed.notify_all()
                thread, self._thread = self._thread, None
            if thread is not None:
                thread.join()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise StoreError(f"{self.path}: could not be synced to disk: {self._error}")

    def _run(self) -> None:
        while True:
            with self._changed:
                while self._covered == self._requested and not self._stopping:
                    self._changed.wait()
                if self._covered == self._requested:
                    return
                target = self._requested
            try:
                fd = os.open(self.path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                with self._changed:
                    self._error = exc
                    self._changed.notify_all()
                return
            with self._changed:
                self._covered = target
                self._changed.notify_all()


class _FileLock:
    """An flock on ``<store>.lock``: one writer at a time, readers share."""

    def __init__(self, path: Path, *, exclusive: bool, wait_seconds: float) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(self._fd, mode | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(self._fd)
                    raise StoreError(
                        f"{path.with_suffix('')}: another mailflow process is using the store; "
                        "try again when it has finished"
                    ) from None
                time.sleep(0.05)

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


class TinyDBStore:
    """Records keyed by id in named tables, with batched, crash-safe commits.

    A writer holds an exclusive lock from open to `close`; a read-only store
    holds a shared lock while it loads, then none.
    """

    def __init__(
        self,
        path: Path,
        *,
        readonly: bool = False,
        wait_seconds: float = 60,
        compact_after_bytes: int = _MIN_JOURNAL_BYTES,
    ) -> None:
        self.path = path
        self.compact_after_bytes = compact_after_bytes
        self.readonly = readonly
        self.journal_path = path.with_name(path.name + ".journal")
        if not path.parent.is_dir():
            raise StoreError(f"{path.parent}: the folder for the store does not exist")
        self._lock = _FileLock(
            path.with_name(path.name + ".lock"), exclusive=not readonly, wait_seconds=wait_seconds
        )
        self._tables: dict[str, dict[str, Record]] = {name: {} for name in TABLES}
        self._pending: list[tuple[str, str, Record | None]] = []
        self._depth = 0
        self._seq = 0
        self._snapshot_bytes = 0
        self._journal_bytes = 0
        self._syncer = _JournalSyncer(self.journal_path)
        self._sync_next: Sync = "now"
        try:
            self._load()
        except BaseException:
            self._lock.release()
            raise
        if readonly:
            self._lock.release()

    # --- loading -----------------------------------------------------------

    def _load(self) -> None:
        self._db, self._storage = SnapshotStorage.open(self.path)
        # The snapshot's records as parsed, not through Table.all(), which wraps each
        # one in a tinydb Document (a copy) that was then copied again. The parsed
        # data is only ever replaced as a whole (a snapshot rewrites every table), so
        # the tables can share its records.
        snapshot = self._storage.read() or {}
        for name in TABLES:
            table = self._tables[name]
            for record in snapshot.get(name, {}).values():
                table[str(record["id"])] = record
        meta = self._tables["meta"].get("schema")
        if meta is not None:
            version = int(meta.get("version", 0))
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: written by a newer mailflow (schema {version}, "
                    f"this one reads up to {SCHEMA_VERSION}); upgrade mailflow"
                )
            self._seq = int(meta.get("journal_seq", 0))
        with suppress(FileNotFoundError):
            self._snapshot_bytes = self.path.stat().st_size
        self._replay_journal()

    def _replay_journal(self) -> None:
        try:
            data = self.journal_path.read_bytes()
        except FileNotFoundError:
            return
        good_end = 0
        for raw_line in data.splitlines(keepends=True):
            entry = self._parse_journal_line(raw_line)
            if entry is None:
                log.warning(
                    "store: ignoring an incomplete last journal entry in %s "
                    "(a commit was interrupted; the state before it is kept)",
                    self.journal_path,
                )
                break
            good_end += len(raw_line)
            if entry["seq"] <= self._seq:
                continue
            for table, record_id, record in entry["ops"]:
                self._apply(table, record_id, record)
            self._seq = entry["seq"]
        if good_end < len(data) and not self.readonly:
            with open(self.journal_path, "r+b") as fh:
                fh.truncate(good_end)
                os.fsync(fh.fileno())
        self._journal_bytes = good_end

    @staticmethod
    def _parse_journal_line(raw_line: bytes) -> dict[str, Any] | None:
        if not raw_line.endswith(b"\n"):
            return None
        try:
            line = raw_line.decode("utf-8")
            checksum, body = line.rstrip("\n").split(" ", 1)
            if checksum != _checksum(body):
                return None
            entry: dict[str, Any] = json.loads(body)
        except ValueError:
            return None
        return entry

    # --- reading -------------------------------------------------------------

    def get(self, table: str, record_id: str) -> Record | None:
        return self._tables[table].get(record_id)

    def all(self, table: str) -> Mapping[str, Record]:
        return self._tables[table]

    # --- writing -------------------------------------------------------------

    def put(self, table: str, record: Record) -> None:
        """Insert or replace the record under ``record["id"]``."""
        record_id = str(record["id"])
        self._apply(table, record_id, record)
        self._pending.append((table, record_id, record))
        if self._depth == 0:
            self.commit()

    def delete(self, table: str, record_id: str) -> None:
        self._apply(table, record_id, None)
        self._pending.append((table, record_id, None))
        if self._depth == 0:
            self.commit()

    def _apply(self, table: str, record_id: str, record: Record | None) -> None:
        if record is None:
            self._tables[table].pop(record_id, None)
        else:
            self._tables[table][record_id] = record

    @contextmanager
    def transaction(self, *, sync: Sync = "now") -> Iterator[None]:
        """Group puts into one atomic commit, made when the outermost block exits.
        ``sync="background"``: see the module's docstring (an inner block's sync
        applies to the commit only if the outermost block asked for it too)."""
        if self._depth == 0:
            self._sync_next = sync
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if self._depth == 0:
            self.commit(sync=self._sync_next)

    def commit(self, *, sync: Sync = "now") -> None:
        if not self._pending:
            return
        if self.readonly:
            raise StoreError("internal error: a read-only store was asked to write")
        self._seq += 1
        body = json.dumps(
            {"seq": self._seq, "ops": self._pending}, separators=(",", ":"), ensure_ascii=False
        )
        line = f"{_checksum(body)} {body}\n".encode()
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)
            if sync == "now":
                os.fsync(fd)
        finally:
            os.close(fd)
        if sync == "background":
            self._syncer.request()
        self._journal_bytes += len(line)
        self._pending = []
        if self._journal_bytes > max(self._snapshot_bytes, self.compact_after_bytes):
            self.compact()

    def compact(self) -> None:
        """Write every table as a fresh TinyDB snapshot and empty the journal."""
        self._snapshot_bytes = self._write_snapshot(self._db, self._storage, self._seq)
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._journal_bytes = 0
        log.debug("store: compacted %s (%d bytes)", self.path, self._snapshot_bytes)

    def backup(self, destination: Path) -> None:
        """Write everything as one consistent snapshot file, restorable as the store."""
        self.commit()
        db, storage = SnapshotStorage.open(destination, empty=True)
        self._write_snapshot(db, storage, 0)

    def _write_snapshot(self, db: TinyDB, storage: SnapshotStorage, journal_seq: int) -> int:
        self._tables["meta"]["schema"] = {
            "id": "schema",
            "version": SCHEMA_VERSION,
            "journal_seq": journal_seq,
        }
        db.drop_tables()
        for name in TABLES:
            records = list(self._tables[name].values())
            if records:
                db.table(name, cache_size=0).insert_multiple(records)
        return storage.flush()

    def close(self) -> None:
        """Commit what is pending, wait for background fsyncs, release the lock; the
        journal stays until it is large."""
        try:
            if not self.readonly:
                self.commit()
                self._syncer.stop()
                if not self.path.exists():
                    self.compact()
        finally:
            self._lock.release()
