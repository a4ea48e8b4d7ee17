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
    ImapAccount,
)
from smtp_server import RecordingSmtpServer  # noqa: E402

__all__ = ["IMAP_PASSWORD_ENV", "ImapAccount", "RecordingSmtpServer"]


@pytest.fixture
def smtp_server() -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer() as server:
        yield server
