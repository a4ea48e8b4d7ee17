"""Fixtures for the web tests; the console and its helpers are in ``webconsole.py``.

(Import helpers from ``webconsole``, not from ``conftest``: which module "conftest"
names depends on the order in which pytest collects the folders.)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from browser import AXE_JS, SharedChromium, chromium_path, launch, skip_or_fail  # noqa: E402
from playwright.sync_api import Browser  # noqa: E402
from smtp_server import RecordingSmtpServer  # noqa: E402
from webconsole import (  # noqa: E402
    COORDINATOR,
    LIAISON_A,
    LIAISON_B,
    Console,
    serve_in_thread,
    start_console,
)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with RecordingSmtpServer() as smtp:
        program, server, url = start_console(tmp_path_factory.mktemp("web") / "program", smtp)
        thread = serve_in_thread(server)
        yield Console(program, smtp, server, url)
        server.stop()
        thread.join(20)


@pytest.fixture(scope="module")
def coordinator(console: Console) -> Iterator[httpx.Client]:
    """One signed-in coordinator for the module (do not sign it out)."""
    with console.signed_in(COORDINATOR) as client:
        yield client


@pytest.fixture(scope="module")
def liaison_a(console: Console) -> Iterator[httpx.Client]:
    """Lena, liaison of P1 and P2, signed in for the module."""
    with console.signed_in(LIAISON_A) as client:
        yield client


@pytest.fixture(scope="module")
def liaison_b(console: Console) -> Iterator[httpx.Client]:
    """Omar, liaison of P3, signed in for the module."""
    with console.signed_in(LIAISON_B) as client:
        yield client


# --- the browser tests: one Chromium for the session (browser.py) ---------------------------


@pytest.fixture(scope="session")
def chromium_session() -> Iterator[SharedChromium]:
    """Debian's Chromium through Playwright, started once for all the browser tests."""
    executable = chromium_path()
    if executable is None:
        skip_or_fail("chromium is needed: run scripts/install-system-deps.sh")
    if not AXE_JS.is_file():
        skip_or_fail(f"axe-core is needed ({AXE_JS}): run scripts/setup.sh (npm ci)")
    assert executable is not None
    yield from launch(executable)


@pytest.fixture
def browser(chromium_session: SharedChromium) -> Iterator[Browser]:
    with chromium_session.in_use() as browser:
        yield browser
