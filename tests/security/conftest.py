"""Fixtures for the security suite: a real Dovecot and aiosmtpd, a program wired to them.

The servers and the program helpers are those of tests/integration (``dovecot.py``,
``smtp_server.py``, ``program/programs.py``), imported by path.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent.parent
for _folder in (_TESTS / "integration", _TESTS / "integration" / "program"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from dovecot import (  # noqa: E402
    IMAP_PASSWORD_ENV,
    Dovecot,
    DovecotError,
    ImapAccount,
    dovecot_available,
    running_dovecot,
)
from smtp_server import RecordingSmtpServer  # noqa: E402

__all__ = ["IMAP_PASSWORD_ENV", "ImapAccount", "RecordingSmtpServer"]


def _skip_or_fail(reason: str) -> None:
    import os

    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (CI=true: this must be present in CI)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    missing = dovecot_available()
    if missing:
        _skip_or_fail(f"Dovecot is needed for the IMAP tests: {missing}")
    try:
        with running_dovecot() as server:
            yield server
    except DovecotError as exc:
        pytest.fail(f"could not start the test Dovecot: {exc}")


@pytest.fixture
def imap_account(dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> ImapAccount:
    username, password = dovecot.add_user()
    return ImapAccount(dovecot, username, password, monkeypatch.setenv)


@pytest.fixture
def smtp_server() -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer() as server:
        yield server
