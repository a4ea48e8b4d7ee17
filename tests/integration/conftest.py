"""Integration fixtures shared by every suite under tests/integration.

IMAP (a real Dovecot, see ``dovecot.py``; the fixtures live in tests/conftest.py so
that every suite shares one Dovecot per session):

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
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from dovecot import (  # noqa: E402
    IMAP_PASSWORD_ENV,
    ImapAccount,
)

# re-exported for suites that did ``from conftest import ...``; prefer ``from dovecot
# import ...``: which conftest module "conftest" names depends on collection order
__all__ = ["IMAP_PASSWORD_ENV", "ImapAccount"]
