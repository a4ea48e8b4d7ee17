"""What the console changes, and what it refuses: CSRF, a liaison's limits, hostile text.

The escalations and replies are put in the store as the poller stores them
(same repository calls); everything else goes through the console over HTTP.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from html.parser import HTMLParser

import httpx
import pytest
from webconsole import LIAISON_A, LIAISON_B, Console, csrf_of

from mailflow.domain.model import Escalation, EscalationReason, Event, EventType

HOSTILE = '<script>alert(1)</script> "onerror=alert(2) x=" <img src=x onerror=alert(3)>'
LINK = "[click](javascript:alert(4)) <a href=\"javascript:alert(5)\">here</a>"


@pytest.fixture(scope="module", autouse=True)
def _replies(console: Console) -> None:
    """A HELP from P1's mentee and one from P3's, with hostile text, as the poller stores them."""
    now = console.clock.now()
    with console.program.app().repository() as repo, repo.transaction():
        for pair_id, person in (("P1", "ed@lib.example"), ("P3", "tom@lib.example")):
            text = f"{HOSTILE} {LINK}"
            repo.add_event(f"help-{pair_id}", Event(now - timedelta(days=1), pair_id, person,
                                                    "mentee", EventType.HELP, None, text,
                                                    f"<help-{pair_id}@mail.example>"))
            repo.put_escalation(Escalation(f"{pair_id}-help-1", pair_id,
                                           LIAISON_A if pair_id == "P1" else LIAISON_B,
                                           EscalationReason.HELP, text, now - timedelta(days=1)))


def _events(coordinator: httpx.Client) -> list[dict[str, str]]:
    response = coordinator.get("/export/events.csv")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.text)))


def _form(client: httpx.Client, path: str) -> str:
    return csrf_of(client.get(path).text)


# --- CSRF ------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "0" * 40, "other"])
def test_a_change_without_its_csrf_token_is_refused_and_changes_nothing(
        console: Console, coordinator: httpx.Client, liaison_b: httpx.Client,
        token: str | None) -> None:
    before = _events(coordinator)
    topic = (console.program.folder / "templates" / "topic.md").read_text()
    if token == "other":  # a real token, of another person's session
        token = _form(liaison_b, "/")
    data = {} if token is None else {"csrf_token": token}
    for path, extra in (("/pairs/P1/pause", {}), ("/pairs/P1/end", {"reason": "x"}),
                        ("/escalations/P1-help-1/resolve", {"note": "done"}),
                        ("/templates/topic", {"source": "Subject: hi\n\nbody"}),
                        ("/templates/topic/revert", {"version": "1"}),
                        ("/logout", {})):
        response = coordinator.post(path, data={**data, **extra})
        assert response.status_code == 403, path
        assert 'id="error-message"' in response.text
    assert _events(coordinator) == before
    assert (console.program.folder / "templates" / "topic.md").read_text() == topic
    assert coordinator.get("/").status_code == 200  # still signed in
    assert "P1-help-1" in coordinator.get("/escalations").text


# --- who sees what ------------------------------------------------------------------------


def test_a_liaison_gets_404_for_anything_not_theirs(console: Console,
                                                    liaison_b: httpx.Client) -> None:
    missing = liaison_b.get("/no/such/page")
    assert missing.status_code == 404
    token = _form(liaison_b, "/")
    for path in ("/pairs/P1", "/pairs/P2", "/templates", "/templates/topic", "/announce",
                 "/templates/topic/history", "/roster", "/report", "/export/events.csv",
                 "/export/outbox.csv", "/export/escalations.csv", "/pairs/NOPE"):
        response = liaison_b.get(path)
        assert response.status_code == 404, path
        assert response.text == missing.text, path
    for path, data in (("/escalations/P1-help-1/resolve", {"note": "mine now"}),
                       ("/pairs/P3/pause", {}), ("/pairs/P1/end", {}),
                       ("/templates/topic", {"source": "Subject: x\n\ny"}),
                       ("/announce", {"to": "all", "subject": "s", "body": "b"})):
        response = liaison_b.post(path, data={"csrf_token": token, **data})
        assert response.status_code == 404, path
    page = liaison_b.get("/escalations")
    assert "P3-help-1" in page.text and "P1-help-1" not in page.text
    assert liaison_b.get("/pairs/P3").status_code == 200


def test_roster_and_reply_texts_are_shown_as_text(console: Console,
                                                  coordinator: httpx.Client) -> None:
    roster = (console.program.folder / "roster.csv").read_text()
    roster += ("P9,<script>alert(6)</script>,evil@lib.example,\"\"\"onerror=alert(7) x=\","
               "e9@lib.example,Lena Liaison,lena.liaison@lib.example,,,\n")
    response = coordinator.post("/roster", data={"csrf_token": _form(coordinator, "/roster"),
                                                 "apply": "1"},
                                files={"file": ("roster.csv", roster.encode(), "text/csv")})
    assert response.status_code == 200, response.text
    for path in ("/", "/pairs/P1", "/pairs/P9", "/escalations"):
        tags = _tags(coordinator.get(path).text)
        assert not [t for t, _ in tags if t in ("script", "img")] or all(
            dict(a).get("src") == "/static/console.js" for t, a in tags if t == "script"), path
        for tag, attrs in tags:
            for name, value in attrs:
                assert not name.startswith("on"), (path, tag, name)
                assert not (value or "").strip().lower().startswith("javascript:"), (path, tag)
    pair = coordinator.get("/pairs/P1").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pair
    assert "javascript:alert(4)" in pair  # the words are there, as words
    assert "&lt;script&gt;alert(6)&lt;/script&gt;" in coordinator.get("/pairs/P9").text


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def _tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every element the browser would make of the page, with its attributes."""
    parser = _Tags()
    parser.feed(html)
    return parser.found


# --- actions ------------------------------------------------------------------------------------


def test_pause_resume_and_end_are_recorded_like_the_command_line(
        console: Console, coordinator: httpx.Client) -> None:
    token = _form(coordinator, "/pairs/P2")
    for verb, data in (("pause", {}), ("resume", {}), ("end", {"reason": "moved away"})):
        response = coordinator.post(f"/pairs/P2/{verb}", data={"csrf_token": token, **data})
        assert response.status_code == 303 and response.headers["location"].startswith(
            "/pairs/P2?done=")
    for path in ("/pairs/NOPE/pause", "/pairs/P2/explode"):
        assert coordinator.post(path, data={"csrf_token": token}).status_code == 404, path
    events = [e for e in _events(coordinator) if e["pair_id"] == "P2"]
    assert [e["type"] for e in events][-3:] == ["pause", "resume", "resolved"]
    assert all(e["message_id"] == "" and e["role"] == "coordinator" for e in events[-3:])
    assert events[-1]["text"] == "moved away"
    status = coordinator.get("/api/status").json()
    assert next(p for p in status["pairs"] if p["pair_id"] == "P2")["state"] == "ended"
    page = coordinator.get(response.headers["location"]).text
    assert "The match is ended" in page and "state-ended" in page


def test_a_liaison_resolves_their_escalation_with_a_note(console: Console,
                                                         liaison_a: httpx.Client,
                                                         coordinator: httpx.Client) -> None:
    token = _form(liaison_a, "/escalations")
    response = liaison_a.post("/escalations/P1-help-1/resolve",
                              data={"csrf_token": token, "note": "Called them <b>both</b>"})
    assert response.status_code == 303
    page = liaison_a.get(response.headers["location"])
    assert "Escalation P1-help-1 resolved" in page.text
    assert 'id="resolve-P1-help-1"' not in page.text
    resolved = [e for e in _events(coordinator) if e["type"] == "resolved"
                and e["pair_id"] == "P1"]
    assert len(resolved) == 1
    assert resolved[0]["message_id"] == "" and resolved[0]["person"] == LIAISON_A
    assert resolved[0]["text"] == "Called them <b>both</b>"
    escalations = coordinator.get("/export/escalations.csv").text
    row = next(r for r in csv.DictReader(io.StringIO(escalations)) if r["id"] == "P1-help-1")
    assert row["resolved_at"]
    again = liaison_a.post("/escalations/P1-help-1/resolve", data={"csrf_token": token})
    assert "Not done" in liaison_a.get(again.headers["location"]).text


def test_exports_are_the_command_lines(console: Console, coordinator: httpx.Client) -> None:
    from mailflow.services import export as exporter

    with console.program.app().repository(readonly=True) as repo:
        expected = exporter.render(exporter.rows(repo, "outbox"), "outbox", "csv")
    response = coordinator.get("/export/outbox.csv")
    assert response.text == expected
    assert response.headers["content-type"].startswith("text/csv")
    assert coordinator.get("/export/secrets.csv").status_code == 404


def test_escalations_are_named_in_words_not_codes(coordinator: httpx.Client) -> None:
    from mailflow.web.pages import REASON_WORDS

    for path in ("/escalations", "/pairs/P1"):
        page = coordinator.get(path).text
        assert "help requested" in page, path
        assert not any(f"</a>: {code}<" in page or f"<li>{code}," in page
                       for code in REASON_WORDS), path
