"""The browser harness: Playwright (from PyPI) driving Debian's Chromium, and axe-core.

No browser is downloaded: Playwright is pointed at ``/usr/bin/chromium``
(``scripts/install-system-deps.sh``). axe-core comes from npm
(``tests/web/package.json``, installed by ``scripts/setup.sh``) and is evaluated in
the page through the DevTools protocol, so the console's Content-Security-Policy, which
allows no inline script, stays on while it runs.

One Chromium serves all the browser tests of the session (``chromium_session`` in
``tests/web/conftest.py``); each test gets it through the ``browser`` fixture and opens
its own context (cookies, viewport). Playwright's sync API marks its event loop as the
thread's running loop for as long as it is alive, which would make every later
``asyncio.run`` and async test in the session fail ("another loop is running"): the
mark is set only while a browser test runs (:class:`SharedChromium`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "docs" / "screenshots"
# What "no WCAG 2.1 A or AA violation" means to axe: the rules tagged with these.
WCAG21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 390, "height": 844}  # a common phone, in CSS pixels
DESKTOP = {"width": 1280, "height": 900}


def skip_or_fail(reason: str) -> None:
    """Skip locally; under CI (CI=true) a missing browser or axe-core is a failure."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (CI=true: this must be present in CI)")
    pytest.skip(reason)


def chromium_path() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    return found


@dataclass
class SharedChromium:
    """The session's Chromium and the event loop Playwright drives it from."""

    browser: Browser
    loop: asyncio.AbstractEventLoop

    @contextmanager
    def in_use(self) -> Iterator[Browser]:
        """The browser, with Playwright's loop marked running only meanwhile."""
        asyncio.events._set_running_loop(self.loop)
        try:
            yield self.browser
        finally:
            asyncio.events._set_running_loop(None)


def launch(executable: str) -> Iterator[SharedChromium]:
    """Playwright's Chromium, as the system's binary; closed when the generator ends."""
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        loop = asyncio.events._get_running_loop()
        assert loop is not None, "Playwright's sync API runs its own loop"
        shared = SharedChromium(browser, loop)
        asyncio.events._set_running_loop(None)
        try:
            yield shared
        finally:
            asyncio.events._set_running_loop(loop)
            browser.close()


@contextmanager
def without_browser_loop() -> Iterator[None]:
    """Inside a browser test: run something that needs ``asyncio.run`` (a send pass)."""
    loop = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(loop)


def axe_violations(page: Page, tags: list[str] | None = None) -> list[dict[str, Any]]:
    """axe-core's violations of the WCAG 2.1 A and AA rules on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})",
        tags or WCAG21_AA,
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation and element, for an assertion message."""
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} "
                         f"at {' '.join(node['target'])}: {node['html'][:160]}")
    return "\n".join(lines)


def assert_accessible(page: Page, what: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"{what} ({page.url}): WCAG 2.1 A/AA violations:\n" + describe(
        violations)


def screenshots_wanted() -> bool:
    """Screenshots for the README are written only when asked (MAILFLOW_SCREENSHOTS=1),
    so a test run never rewrites committed files."""
    return os.environ.get("MAILFLOW_SCREENSHOTS", "") in {"1", "true", "yes"}


def save_screenshot(page: Page, name: str, *, full_page: bool = False) -> Path | None:
    if not screenshots_wanted():
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path
