"""Fixtures for the reliability suites: the integration suite's Dovecot and SMTP servers.

The helpers live in ``tests/integration`` (``dovecot.py``, ``smtp_server.py``,
``program/programs.py``); they are put on ``sys.path`` here and the Dovecot fixtures
are wired the same way as in ``tests/integration/conftest.py``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_TESTS = Path(__file__).resolve().parent.parent
for _path in (_TESTS / "reliability", _TESTS / "integration", _TESTS / "integration" / "program"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from dovecot import (  # noqa: E402
    Dovecot,
    DovecotError,
    ImapAccount,
    dovecot_available,
    running_dovecot,
)


def _root_conftest() -> Any:
    spec = importlib.util.spec_from_file_location("mailflow_tests_root_conftest_rel",
                                                  _TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


skip_or_fail = _root_conftest().skip_or_fail


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    missing = dovecot_available()
    if missing:
        skip_or_fail(f"Dovecot is needed for the IMAP fault tests: {missing}")
    try:
        with running_dovecot() as server:
            yield server
    except DovecotError as exc:
        pytest.fail(f"could not start the test Dovecot: {exc}")


@pytest.fixture
def imap_account(dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> ImapAccount:
    username, password = dovecot.add_user()
    return ImapAccount(dovecot, username, password, monkeypatch.setenv)
