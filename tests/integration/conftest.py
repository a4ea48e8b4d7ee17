"""Integration fixtures shared by every suite under tests/integration.

IMAP (a real Dovecot, see ``dovecot.py``):

- ``dovecot`` (session): the running ``Dovecot`` — ``host``, ``imap_port`` (plain,
  offers STARTTLS), ``imaps_port`` (implicit TLS), ``ca_file``, ``log_tail()``,
  ``kick(user)``. Skipped when Dovecot is not installed; a failure under CI=true.
- ``imap_account``: a fresh user on it, an ``ImapAccount`` with ``username``,
  ``password``, ``append(messages, folder)``, ``messages(folder)``, ``folders()``,
  ``kick()`` and ``settings(security=..., **overrides) -> ImapSettings`` (the
  password is put in the environment variable the settings name).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from dovecot import Dovecot, DovecotError, dovecot_available, running_dovecot  # noqa: E402

from mailflow.config import ImapSettings  # noqa: E402


def _root_conftest() -> Any:
    """tests/conftest.py, loaded by path (tests/ is not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "conftest.py"
    spec = importlib.util.spec_from_file_location("mailflow_tests_root_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


skip_or_fail = _root_conftest().skip_or_fail

IMAP_PASSWORD_ENV = "MAILFLOW_TEST_IMAP_PASSWORD"


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    missing = dovecot_available()
    if missing:
        skip_or_fail(f"Dovecot is needed for the IMAP tests: {missing}")
    try:
        with running_dovecot() as server:
            yield server
    except DovecotError as exc:
        pytest.fail(f"could not start the test Dovecot: {exc}")


@dataclass
class ImapAccount:
    server: Dovecot
    username: str
    password: str
    monkeypatch: pytest.MonkeyPatch

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def ca_file(self) -> Path:
        return self.server.ca_file

    def settings(self, security: str = "tls", **overrides: Any) -> ImapSettings:
        """Settings for this account; the password is in $MAILFLOW_TEST_IMAP_PASSWORD."""
        self.monkeypatch.setenv(IMAP_PASSWORD_ENV, self.password)
        port = self.server.imaps_port if security == "tls" else self.server.imap_port
        values: dict[str, Any] = {
            "host": self.server.host, "port": port, "security": security,
            "username": self.username, "password_env": IMAP_PASSWORD_ENV,
            "ca_file": self.server.ca_file, "timeout_seconds": 10,
        }
        values.update(overrides)
        return ImapSettings(**values)

    def append(self, messages: Iterable[bytes], folder: str = "INBOX") -> list[int]:
        return self.server.append(self.username, self.password, messages, folder)

    def messages(self, folder: str = "INBOX") -> dict[int, tuple[bytes, set[str]]]:
        return self.server.messages(self.username, self.password, folder)

    def folders(self) -> set[str]:
        return self.server.folders(self.username, self.password)

    def kick(self) -> None:
        self.server.kick(self.username)


@pytest.fixture
def imap_account(dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> ImapAccount:
    username, password = dovecot.add_user()
    return ImapAccount(dovecot, username, password, monkeypatch)
