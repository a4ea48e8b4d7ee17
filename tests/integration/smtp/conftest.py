"""Fixtures for the SMTP adapter tests: see ``tests/integration/conftest_smtp.py``."""

from __future__ import annotations

import sys
from pathlib import Path

# the shared server and fixtures live one folder up (no packages under tests/)
_HERE = str(Path(__file__).resolve().parent.parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from conftest_smtp import (  # noqa: E402
    smtp_certs,
    smtp_login,
    smtp_server,
    smtp_settings,
    smtp_starttls_server,
    smtp_tls_server,
)

__all__ = [
    "smtp_certs",
    "smtp_login",
    "smtp_server",
    "smtp_settings",
    "smtp_starttls_server",
    "smtp_tls_server",
]
