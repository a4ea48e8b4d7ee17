"""Shared test helpers: where the real-world corpora are, and CI's strictness.

Under CI (CI=true) a missing corpus or server is a failure, not a skip.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
_INTEGRATION = str(REPO / "tests" / "integration")  # dovecot.py, smtp_server.py live there
if _INTEGRATION not in sys.path:
    sys.path.insert(0, _INTEGRATION)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip locally; under CI the missing piece is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this must be present in CI)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def corpora_dir() -> Path:
    path = Path(os.environ.get("MAILFLOW_CORPORA", REPO.parent / "shared" / "corpora"))
    if not path.is_dir():
        skip_or_fail(f"corpora not found at {path} (set MAILFLOW_CORPORA)")
    return path


@pytest.fixture(scope="session")
def oauth_server() -> Iterator[Any]:
    """One local OAuth 2.0 authorization server for the session (oauth_server.py); the
    session's Dovecot checks XOAUTH2 and OAUTHBEARER tokens against it."""
    from oauth_server import OAuthServer

    with OAuthServer() as server:
        yield server


@pytest.fixture(scope="session")
def dovecot(oauth_server: Any) -> Iterator[Any]:
    """One throwaway Dovecot for the whole session (see tests/integration/dovecot.py),
    taking passwords and OAuth 2.0 tokens of ``oauth_server``."""
    from dovecot import DovecotError, dovecot_available, running_dovecot

    missing = dovecot_available()
    if missing:
        skip_or_fail(f"Dovecot is needed for the IMAP tests: {missing}")
    try:
        with running_dovecot(oauth_server.url) as server:
            yield server
    except DovecotError as exc:
        pytest.fail(f"could not start the test Dovecot: {exc}")


@pytest.fixture
def imap_account(dovecot: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh user on the session's Dovecot: an ``ImapAccount`` from dovecot.py."""
    from dovecot import ImapAccount

    username, password = dovecot.add_user()
    return ImapAccount(dovecot, username, password, monkeypatch.setenv)
