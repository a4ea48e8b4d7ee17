"""The committee's report in the shared Chromium: no WCAG 2.1 A or AA violation (axe-core),
on a desktop and on a phone-sized screen."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from browser import DESKTOP, PHONE, assert_accessible, axe_violations
from playwright.sync_api import Browser
from report_program import realistic_state

from mailflow.report.page import build_report


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    state = realistic_state(folder)
    html = build_report(state, generated_at=datetime(2025, 6, 12, 15, 4, tzinfo=UTC))
    path = folder / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_report_has_no_wcag_violation(browser: Browser, report_file: Path,
                                          viewport: dict[str, int]) -> None:
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        page.goto(report_file.as_uri())
        assert page.locator("h1").count() == 1
        assert_accessible(page, "the report")
    finally:
        context.close()


def test_axe_finds_a_violation_when_there_is_one(browser: Browser) -> None:
    """The check can fail: an image without text and an unlabelled field are found."""
    page = browser.new_page()
    try:
        page.set_content('<!doctype html><html lang="en"><title>t</title><main><h1>x</h1>'
                         '<img src="data:,"><input type="text"></main></html>')
        found = {v["id"] for v in axe_violations(page)}
        assert {"image-alt", "label"} <= found, found
    finally:
        page.close()
