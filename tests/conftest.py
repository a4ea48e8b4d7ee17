"""Shared test helpers: where the real-world corpora are, and CI's strictness.

Under CI (CI=true) a missing corpus or server is a failure, not a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
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
