"""Integration fixtures shared by every suite under tests/integration.

IMAP (a real Dovecot, see ``dovecot.py``):

- ``dovecot`` (session): the running ``Dovecot`` — ``host``, ``imap_port`` (plain,
  offers STARTTLS), ``imaps_port`` (implicit TLS), ``ca_file``, ``log_tail()``,
  ``kick(user)``. Skipped when Dovecot is not installed; a failure under CI=true.
- ``imap_account``: a fresh user on it, an ``ImapAccount`` with ``username``,
  ``password``, ``append(messages, folder)``, ``messages(folder)``, ``folders()``,
  ``kick()`` and ``settings(security=..., **overrides) -> ImapSettings`` (the
  password is put in the environment variable the settings name). The class
  lives in ``dovecot.py``: import it from there, not from ``conftest``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from dovecot import (  # noqa: E402
    IMAP_PASSWORD_ENV,
    Dovecot,
    DovecotError,
    ImapAccount,
    dovecot_available,
    running_dovecot,
)


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

# re-exported for suites that did ``from conftest import ...``; prefer ``from dovecot
# import ...``: which conftest module "conftest" names depends on collection order
__all__ = ["IMAP_PASSWORD_ENV", "ImapAccount", "dovecot", "imap_account"]


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


@pytest.fixture
def imap_account(dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> ImapAccount:
    username, password = dovecot.add_user()
    return ImapAccount(dovecot, username, password, monkeypatch.setenv)
