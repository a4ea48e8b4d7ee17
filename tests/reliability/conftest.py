"""Fixtures for the reliability suites: the integration suite's Dovecot and SMTP servers.

The helpers live in ``tests/integration`` (``dovecot.py``, ``smtp_server.py``,
``program/programs.py``); they are put on ``sys.path`` here. The Dovecot fixtures
(``dovecot``, ``imap_account``) are tests/conftest.py's, shared by every suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = Path(__file__).resolve().parent.parent
for _path in (_TESTS / "reliability", _TESTS / "integration", _TESTS / "integration" / "program"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
