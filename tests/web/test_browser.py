"""The console in a real browser: Chromium (Playwright) against uvicorn, mail to aiosmtpd.

A coordinator signs in through the link emailed to the in-process SMTP server, edits a
template and sees the live preview change, saves a broken template and sees its line,
uploads a roster with a bad line and sees it listed, resolves an escalation and signs
out. axe-core checks every page, for a coordinator and for a liaison: no WCAG 2.1 A or
AA violation. With MAILFLOW_SCREENSHOTS=1 the tests also write the README's
screenshots (docs/screenshots/), a phone-sized one among them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import DESKTOP, PHONE, assert_accessible, save_screenshot
from openpyxl import Workbook
from playwright.sync_api import Browser, BrowserContext, Page, expect
from webconsole import COORDINATOR, LIAISON_A, Console, csrf_of

BROKEN_ROSTER = (
    "pair_id;mentor_name;mentor_email;mentee_name;mentee_email;liaison_name;liaison_email\r\n"
    "P1;Mia Mentor;mia@lib.example;Ed Mentee;ed@lib.example;Lena Liaison;"
    "lena.liaison@lib.example\r\n"
    "P4;Noa Mentor;noa@@lib;Kai Mentee;kai@lib.example;Lena Liaison;lena.liaison@lib.example\r\n"
)


@pytest.fixture(scope="module")
def escalated(console: Console) -> Console:
    """The program two months in, after a send pass: each pair quiet, so escalated."""
    report = console.program.send_due()
    assert report.sent and not report.failed
    return console


def _context(browser: Browser, console: Console, email: str | None,
             viewport: dict[str, int] = DESKTOP) -> BrowserContext:
    """A fresh browser context; with ``email``, already signed in (cookies of a session
    made through the emailed link, by ``console.sign_in``)."""
    context = browser.new_context(viewport=viewport, base_url=console.url)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    if email is not None:
        client = console.sign_in(email)
        context.add_cookies([{"name": name, "value": value, "url": console.url}
                             for name, value in client.cookies.items()])
        client.close()
    return context


@pytest.fixture
def coordinator_page(browser: Browser, escalated: Console) -> Iterator[Page]:
    context = _context(browser, escalated, COORDINATOR)
    yield context.new_page()
    context.close()


@pytest.fixture
def liaison_page(browser: Browser, escalated: Console) -> Iterator[Page]:
    context = _context(browser, escalated, LIAISON_A)
    yield context.new_page()
    context.close()


def _open(page: Page, path: str, what: str) -> Page:
    response = page.goto(path)
    assert response is not None and response.status == 200, (path, response)
    assert_accessible(page, what)
    return page


def test_sign_in_through_the_emailed_link_and_sign_out(browser: Browser,
                                                       escalated: Console) -> None:
    console = escalated
    console.later(minutes=15)  # a fresh hour's allowance of links
    context = _context(browser, console, None)
    page = context.new_page()
    try:
        _open(page, "/login", "the sign-in page")
        save_screenshot(page, "sign-in")
        before = len(console.login_emails(COORDINATOR))
        page.get_by_label("Your email address").fill(COORDINATOR)
        page.get_by_role("button", name="Email me a sign-in link").click()
        expect(page.locator("#login-sent")).to_be_visible()
        assert_accessible(page, "the sign-in page, link sent")
        link = console.wait_for_link(COORDINATOR, before + 1)
        _open(page, link, "the link's page")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{console.url}/")
        expect(page.locator("h1")).to_have_count(1)
        expect(page.locator("#sign-out")).to_be_visible()
        page.goto(link)  # the link is used up
        expect(page.locator("#link-invalid")).to_be_visible()
        assert_accessible(page, "a used link")
        page.goto("/")
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r"/login"))
        page.goto("/escalations")
        assert "/login" in page.url  # signed out: back to the sign-in page
    finally:
        context.close()


def test_every_coordinator_page_passes_axe(coordinator_page: Page) -> None:
    page = coordinator_page
    _open(page, "/", "the dashboard")
    expect(page.locator("#pairs")).to_contain_text("P1")
    save_screenshot(page, "dashboard")
    _open(page, "/pairs/P1", "a pair's page")
    save_screenshot(page, "pair")
    _open(page, "/escalations", "the escalations")
    _open(page, "/plan", "the plan")
    _open(page, "/templates", "the templates")
    _open(page, "/templates/ack/history", "a template's history")
    _open(page, "/roster", "the roster upload")
    _open(page, "/report", "the committee's report")
    _open(page, "/announce", "the announcement form")
    _open(page, "/quarantine", "the quarantine")
    response = page.goto("/pairs/NO-SUCH-PAIR")
    assert response is not None and response.status == 404
    assert_accessible(page, "the not-found page")


def test_the_pages_after_each_action_pass_axe(coordinator_page: Page, tmp_path: Path) -> None:
    """What a page shows after a change: a saved template and its history with a diff, a
    paused pair, a roster that would import, an announcement's preview."""
    page = coordinator_page
    _open(page, "/templates/ack", "the editor of ack")
    source = page.locator("#source")
    source.fill(source.input_value().replace("\n\n", "\n\nA line added in the browser.\n\n", 1))
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#notice")).to_be_visible()
    assert_accessible(page, "the editor after a save")
    _open(page, "/templates/ack/history", "a template's history with a version")
    expect(page.locator("#revert-1")).to_be_visible()
    expect(page.locator("main")).to_contain_text("A line added in the browser.")
    _open(page, "/pairs/P3", "a pair's page")
    page.click("#pause")
    expect(page.locator("#notice")).to_be_visible()
    expect(page.locator("#resume")).to_be_visible()
    assert_accessible(page, "a paused pair's page")
    roster = tmp_path / "roster.csv"
    roster.write_bytes(BROKEN_ROSTER.replace("noa@@lib", "noa@lib.example").encode("utf-8"))
    _open(page, "/roster", "the roster upload")
    page.set_input_files("#file", str(roster))
    page.get_by_role("button", name="Show what would change").click()
    expect(page.locator("#roster-added")).to_contain_text("1 added: P4")
    assert_accessible(page, "the roster's would-change report")
    _open(page, "/announce", "the announcement form")
    page.fill("#to", "mentors")
    page.fill("#subject", "The spring meet-up")
    page.fill("#body", "Dear {{ recipient.first_name }},\n\nWe meet on **12 March**.")
    page.click("#announce-preview")
    expect(page.locator("#preview-subject")).to_have_text("The spring meet-up")
    assert_accessible(page, "an announcement's preview")


def test_every_liaison_page_passes_axe_and_shows_only_their_pairs(liaison_page: Page) -> None:
    page = liaison_page
    _open(page, "/", "a liaison's dashboard")
    expect(page.locator("#pairs")).to_contain_text("P1")
    expect(page.locator("#pairs")).not_to_contain_text("P3")
    _open(page, "/pairs/P2", "a liaison's pair page")
    _open(page, "/escalations", "a liaison's escalations")
    _open(page, "/plan", "a liaison's plan")
    for hidden in ("/pairs/P3", "/templates", "/roster"):
        response = page.goto(hidden)
        assert response is not None and response.status == 404, hidden
    assert_accessible(page, "the not-found page, for a liaison")


def test_edit_a_template_see_the_preview_change_and_a_broken_save_show_its_line(
        coordinator_page: Page, escalated: Console) -> None:
    page = coordinator_page
    _open(page, "/templates/topic", "the template editor")
    source = page.locator("#source")
    original = source.input_value()
    subject_line, rest = original.split("\n", 1)
    page.select_option("#pair", "P1")
    source.fill("Subject: A browser-edited subject for {{ pair.id }}\n" + rest)
    # the live preview (console.js) follows the typing; no button pressed
    expect(page.locator("#preview-subject")).to_have_text("A browser-edited subject for P1")
    expect(page.locator("#preview-text")).to_be_visible()
    assert_accessible(page, "the editor with a live preview")
    save_screenshot(page, "template-editor", full_page=True)
    file = escalated.program.folder / "templates" / "topic.md"
    before = file.read_text(encoding="utf-8")
    source.fill(f"{subject_line}\n\nDear {{{{ recipient.first_name }}}},\n\n"
                "{% for x in pair.goals %}\n{{ x.nope( }}\n{% endfor %}\n")
    page.get_by_role("button", name="Save").click()
    problems = page.locator("#problems")
    expect(problems).to_be_visible()
    expect(problems).to_contain_text(re.compile(r"templates/topic\.md:6"))
    assert file.read_text(encoding="utf-8") == before  # nothing saved
    assert_accessible(page, "the editor showing a failed save")
    save_screenshot(page, "template-error")


def test_upload_a_roster_with_a_bad_line_and_see_it_listed(coordinator_page: Page,
                                                         tmp_path: Path) -> None:
    page = coordinator_page
    _open(page, "/roster", "the roster upload")
    roster = tmp_path / "roster.csv"
    roster.write_bytes(BROKEN_ROSTER.encode("utf-8"))
    page.set_input_files("#file", str(roster))
    page.get_by_role("button", name="Show what would change").click()
    problems = page.locator("#roster-problems")
    expect(problems).to_be_visible()
    expect(problems).to_contain_text("roster.csv: line 3: mentor_email")
    assert_accessible(page, "the roster upload with a bad line")
    save_screenshot(page, "roster-problems")
    # the workbook itself, as Excel saves it: the same line named
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for line in BROKEN_ROSTER.strip().split("\r\n"):
        sheet.append(line.split(";"))
    workbook = tmp_path / "roster.xlsx"
    book.save(workbook)
    page.set_input_files("#file", str(workbook))
    page.get_by_role("button", name="Show what would change").click()
    expect(page.locator("#roster-problems")).to_contain_text("roster.xlsx: line 3: mentor_email")


def test_resolve_an_escalation(coordinator_page: Page) -> None:
    page = coordinator_page
    _open(page, "/escalations", "the escalations")
    first = page.locator("article[id^=esc-]").first
    escalation_id = (first.get_attribute("id") or "").removeprefix("esc-")
    assert escalation_id
    page.fill(f"#note-{escalation_id}", "Called them both: they meet on Friday.")
    page.click(f"#resolve-{escalation_id}")
    expect(page.locator(f"#esc-{escalation_id}")).to_have_count(0)
    expect(page.locator("#resolved")).to_contain_text("resolved")
    assert_accessible(page, "the escalations after a resolve")
    # the same record as a resolve by email: a `resolved` event with the note, no Message-ID
    events = page.request.get("/export/events.csv").text()
    resolved = [line for line in events.splitlines() if ",resolved," in line]
    assert len(resolved) == 1 and "they meet on Friday" in resolved[0], events


def test_the_console_on_a_phone(browser: Browser, escalated: Console) -> None:
    context = _context(browser, escalated, COORDINATOR, viewport=PHONE)
    try:
        page = context.new_page()
        _open(page, "/", "the dashboard on a phone")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width}px wide on a phone"
        save_screenshot(page, "dashboard-phone", full_page=True)
        for path in ("/pairs/P1", "/escalations", "/plan", "/templates/topic", "/roster"):
            _open(page, path, f"{path} on a phone")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width}px wide on a phone"
    finally:
        context.close()


def test_a_form_without_its_csrf_token_is_refused_in_the_browser_too(
        coordinator_page: Page, escalated: Console) -> None:
    """The request the page's own form makes, minus the token: 403, nothing paused."""
    page = coordinator_page
    _open(page, "/pairs/P2", "a pair's page")
    token = csrf_of(page.content())
    bad = page.request.post(f"{escalated.url}/pairs/P2/pause", form={"csrf_token": "x" + token})
    assert bad.status == 403


RUNAWAY = ("Subject: Runaway\n\nDear {{ recipient.first_name }},\n"
           "{% for i in range(100000) %}{% for j in range(100000) %}{{ 'x' * 10**6 }}"
           "{% endfor %}{% endfor %}\n")


def test_a_runaway_template_fails_its_preview_and_save_and_the_console_stays_up(
        coordinator_page: Page, escalated: Console) -> None:
    """A loop that never ends writing a megabyte each time: an error with its line within
    seconds, in the preview and on save, and the console goes on serving."""
    page = coordinator_page
    _open(page, "/templates/topic", "the template editor")
    token = csrf_of(page.content())
    file = escalated.program.folder / "templates" / "topic.md"
    before = file.read_text(encoding="utf-8")
    for form in ({"preview": "1"}, {}):
        started = time.monotonic()
        response = page.request.post(f"{escalated.url}/templates/topic", form={
            "csrf_token": token, "source": RUNAWAY, "pair": "P1", **form}, timeout=60_000)
        elapsed = time.monotonic() - started
        assert elapsed < 10, f"{elapsed:.1f}s"
        text = response.text()
        assert "templates/topic.md:4: the template builds more than" in text, text[:3000]
    assert file.read_text(encoding="utf-8") == before
    _open(page, "/", "the dashboard after a runaway template")
