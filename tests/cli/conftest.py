"""Run the real `mailflow` command in a subprocess against a scaffolded program."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def program(tmp_path: Path) -> Path:
    folder = tmp_path / "program"
    result = subprocess.run(
        [sys.executable, "-m", "mailflow", "init", str(folder)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture
def mailflow(program: Path) -> Run:
    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mailflow", *args],
            cwd=program, capture_output=True, text=True, check=False,
            env={**os.environ, **(env or {})}, timeout=120,
        )

    return run
