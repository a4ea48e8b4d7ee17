"""Sign-in without passwords: one-time links, sessions, CSRF tokens, the signing key.

Nothing secret is kept in clear: a link's token and a session id are stored
only as HMAC-SHA256 digests under the signing key, so a copy of the file
cannot be used to sign in. The key is made on first start beside the store
(``<store>.web-key``, mode 0600); the tokens, sessions and the count of link
requests live in ``<store>.web-auth.json`` (mode 0600), written whole and
atomically under an flock. They are kept apart from the program's store so
that signing in never waits for a long send pass that holds the store.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mailflow.adapters.store import write_atomically
from mailflow.errors import MailflowError

LINK_VALID = timedelta(minutes=15)
LINKS_PER_HOUR = 5
KEY_BYTES = 32


def key_path(storage_path: Path) -> Path:
    return storage_path.with_name(storage_path.name + ".web-key")


def auth_path(storage_path: Path) -> Path:
    return storage_path.with_name(storage_path.name + ".web-auth.json")


def load_or_create_key(path: Path) -> bytes:
    """The signing key; made (random, mode 0600) the first time, then read."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) < KEY_BYTES:
            raise MailflowError(f"{path}: the web console's key is damaged; delete it "
                                "(everyone signs in again)") from None
        return key
    key = secrets.token_bytes(KEY_BYTES)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
        fh.flush()
        os.fsync(fh.fileno())
    return key


@dataclass(frozen=True)
class Keyring:
    key: bytes

    def digest(self, purpose: str, value: str) -> str:
        """What is stored or compared instead of ``value``."""
        return hmac.new(self.key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def csrf_token(self, session_id: str) -> str:
        """The form token of a session: useless without the session cookie beside it."""
        return self.digest("csrf", session_id)[:40]

    def check_csrf(self, session_id: str, token: str) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(session_id), token)


@dataclass(frozen=True)
class Session:
    email: str
    expires: datetime


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


class AuthStore:
    """Link tokens, sessions and link requests, in one small file beside the store."""

    def __init__(self, path: Path, keyring: Keyring) -> None:
        self.path = path
        self.keyring = keyring
        self._lock_path = path.with_name(path.name + ".lock")

    @contextmanager
    def _data(self, now: datetime) -> Iterator[dict[str, Any]]:
        """Read, let the caller change, prune what expired, write back: under an flock."""
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                data: dict[str, Any] = json.loads(self.path.read_bytes())
            except FileNotFoundError:
                data = {}
            except ValueError:
                data = {}  # a damaged file: everyone signs in again
            for table in ("tokens", "sessions", "requests"):
                data.setdefault(table, {})
            before = json.dumps(data, sort_keys=True)
            yield data
            self._prune(data, now)
            after = json.dumps(data, sort_keys=True)
            if after != before:
                write_atomically(self.path, after.encode())
        finally:
            os.close(fd)  # releases the flock

    @staticmethod
    def _prune(data: dict[str, Any], now: datetime) -> None:
        for table in ("tokens", "sessions"):
            data[table] = {k: v for k, v in data[table].items() if _when(v["expires"]) > now}
        hour_ago = now - timedelta(hours=1)
        data["requests"] = {
            k: kept for k, times in data["requests"].items()
            if (kept := [t for t in times if _when(t) > hour_ago])
        }

    # --- links ------------------------------------------------------------------------

    def issue_link_token(self, email: str, now: datetime) -> str | None:
        """A new one-time token for ``email``, or None past 5 links in the last hour."""
        who = self.keyring.digest("email", email)
        with self._data(now) as data:
            hour_ago = now - timedelta(hours=1)
            recent = [t for t in data["requests"].get(who, []) if _when(t) > hour_ago]
            if len(recent) >= LINKS_PER_HOUR:
                return None
            token = secrets.token_hex(24)
            data["requests"][who] = [*recent, _iso(now)]
            data["tokens"][self.keyring.digest("link", token)] = {
                "email": email, "expires": _iso(now + LINK_VALID)}
        return token

    def link_is_valid(self, token: str, now: datetime) -> bool:
        with self._data(now) as data:
            found = data["tokens"].get(self.keyring.digest("link", token))
        return found is not None and _when(found["expires"]) > now

    def redeem_link(self, token: str, now: datetime) -> str | None:
        """The address the link was sent to; the link is used up. None if not valid."""
        with self._data(now) as data:
            found = data["tokens"].pop(self.keyring.digest("link", token), None)
        if found is None or _when(found["expires"]) <= now:
            return None
        return str(found["email"])

    # --- sessions ------------------------------------------------------------------------

    def open_session(self, email: str, now: datetime, hours: float) -> str:
        session_id = secrets.token_urlsafe(32)
        with self._data(now) as data:
            data["sessions"][self.keyring.digest("session", session_id)] = {
                "email": email, "expires": _iso(now + timedelta(hours=hours))}
        return session_id

    def session(self, session_id: str, now: datetime) -> Session | None:
        if not session_id:
            return None
        with self._data(now) as data:
            found = data["sessions"].get(self.keyring.digest("session", session_id))
        if found is None or _when(found["expires"]) <= now:
            return None
        return Session(found["email"], _when(found["expires"]))

    def close_session(self, session_id: str, now: datetime) -> None:
        with self._data(now) as data:
            data["sessions"].pop(self.keyring.digest("session", session_id), None)
