"""The token cache: the refresh token and what ``mailflow auth status`` shows.

One small JSON file (``[oauth2].token_cache``, beside the store), readable by its
owner only. It holds the refresh token of the ``refresh_token`` grant and, for every
grant, the account, the scope, when the last access token was fetched and when it
expires -- never an access token, which lives in memory only. Every write goes to a
temporary file in the same folder, is fsynced and renamed over the old one, so a
crash leaves either the old refresh token or the new one, never half of one.
``locked()`` keeps two processes (the service and a `mailflow poll`, say) from both
spending the same refresh token when the server rotates it: the second one waits,
then reads the token the first one wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from mailflow.errors import ConfigError


class TokenCache:
    """Reads and atomically rewrites the cache file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any]:
        """The cached record, or ``{}`` when there is none yet."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"the token cache {self.path} cannot be read "
                              f"({exc.strerror})") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise ConfigError(f"the token cache {self.path} is not valid JSON: delete it and "
                              "run `mailflow auth login` again") from None
        return data if isinstance(data, dict) else {}

    @contextlib.asynccontextmanager
    async def locked(self, timeout: float = 60.0) -> AsyncIterator[None]:
        """Hold ``<cache>.lock`` (an advisory lock, without blocking the event loop)."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if asyncio.get_running_loop().time() > deadline:
                        raise ConfigError(f"{lock_path} stayed locked for {timeout:g} s: is "
                                          "another mailflow stuck?") from None
                    await asyncio.sleep(0.05)
            yield
        finally:
            os.close(fd)  # releases the lock

    def update(self, **changes: Any) -> dict[str, Any]:
        """Merge ``changes`` into the record and write it atomically (mode 0600)."""
        record = self.read()
        record.update(changes)
        self._write(record)
        return record

    def _write(self, record: dict[str, Any]) -> None:
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=folder)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(record, handle, indent=2, sort_keys=True)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
