"""One service per store: an flock on ``<store>.pid`` that holds the service's process id.

The store's own lock (``<store>.lock``) is held for one pass at a time, so two
services on one store would take turns without a word. The service takes this
lock for its whole life instead: a second one finds it held, reads the first
one's process id from the file and refuses to start. The kernel drops the lock
when the process ends, however it ends, so a stale file never blocks a restart.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from mailflow.errors import MailflowError


class ServiceRunning(MailflowError):
    """Another service holds the store."""


class ServiceLock:
    def __init__(self, store_path: Path) -> None:
        self.path = store_path.with_name(store_path.name + ".pid")
        self._fd = -1

    def __enter__(self) -> ServiceLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise ServiceRunning(
                f"another mailflow service (process id {other}) is already running on the "
                f"store {self.path.with_suffix('')}; stop it first (or `systemctl reload "
                "mailflow` to make it read a changed config)") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd < 0:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = -1
