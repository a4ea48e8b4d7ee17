"""Templates and roster from the console: check before save, history, revert, upload preview."""

from __future__ import annotations

import html
import re

import httpx
from webconsole import Console, csrf_of

BAD_LINE = ("Subject: Month {{ pair.month }}\n\nDear {{ recipient.first_name }},\n\n"
            "{{ pair.mentorr.name }}\n")


def _topic(console: Console) -> str:
    return (console.program.folder / "templates" / "topic.md").read_text(encoding="utf-8")


def _save(client: httpx.Client, name: str, source: str, **extra: str) -> httpx.Response:
    token = csrf_of(client.get(f"/templates/{name}").text)
    return client.post(f"/templates/{name}", data={"csrf_token": token, "source": source,
                                                   **extra})


def test_the_preview_shows_the_unsaved_text_for_a_chosen_pair(console: Console,
                                                              coordinator: httpx.Client) -> None:
    before = _topic(console)
    source = before.replace("Here is this month's conversation starter.",
                            "Here is this month's NEW starter for {{ partner.name }}.")
    response = _save(coordinator, "topic", source, preview="1", pair="P1")
    assert response.status_code == 200
    text = html.unescape(re.search(r'<pre id="preview-text">(.*?)</pre>', response.text,
                                   re.S).group(1))
    assert "NEW starter for Mia Mentor." in text  # to P1's mentee: the partner is Mia
    srcdoc = html.unescape(re.search(r'srcdoc="([^"]*)"', response.text).group(1))
    assert "NEW starter for Mia Mentor" in srcdoc and "<html" in srcdoc
    assert _topic(console) == before  # a preview saves nothing
    sample = _save(coordinator, "topic", source, preview="1")
    assert "NEW starter for Zoë" in html.unescape(sample.text)  # sample data without a pair
    fragment = coordinator.post("/templates/topic", data={
        "csrf_token": csrf_of(response.text), "source": source, "preview": "1", "pair": "P3"},
        headers={"X-Mailflow-Fragment": "preview"})
    assert fragment.text.lstrip().startswith('<section aria-labelledby="preview-heading"')
    assert "Ida Mentor" in html.unescape(fragment.text)


def test_a_broken_template_is_not_saved_and_its_line_is_shown(console: Console,
                                                              coordinator: httpx.Client) -> None:
    before = _topic(console)
    response = _save(coordinator, "topic", BAD_LINE)
    assert response.status_code == 400
    problems = html.unescape(re.search(r'<div role="alert" class="error" id="problems">(.*?)'
                                       r"</div>", response.text, re.S).group(1))
    assert "templates/topic.md:5:" in problems and "mentorr" in problems
    assert "mailflow-check-" not in problems
    assert _topic(console) == before
    assert html.unescape(response.text).count("{{ pair.mentorr.name }}") >= 1  # text kept
    unclosed = _save(coordinator, "topic", "Subject: x\n\n{% if topic %}\nno end\n")
    assert unclosed.status_code == 400 and "templates/topic.md:" in unclosed.text
    assert _topic(console) == before


def test_a_save_keeps_the_previous_version_and_revert_restores_it(
        console: Console, coordinator: httpx.Client) -> None:
    original = _topic(console)
    first = original.replace("Month {{ pair.month }} of your mentorship",
                             "Month {{ pair.month }} (edited once) of your mentorship")
    second = first.replace("(edited once)", "(edited twice)")
    for source in (first, second):
        saved = _save(coordinator, "topic", source)
        assert saved.status_code == 303, saved.text[:500]
        assert "Saved" in coordinator.get(saved.headers["location"]).text
    assert _topic(console) == second
    history = coordinator.get("/templates/topic/history")
    text = html.unescape(history.text)
    assert "Version 2" in text and "Version 1" in text
    assert "-Month {{ pair.month }} (edited once)" in text
    assert "+Month {{ pair.month }} (edited twice)" in text
    token = csrf_of(history.text)
    reverted = coordinator.post("/templates/topic/revert", data={"csrf_token": token,
                                                                 "version": "1"})
    assert reverted.status_code == 303
    assert "Version 1 restored" in coordinator.get(reverted.headers["location"]).text
    assert _topic(console) == original
    assert "Version 3" in coordinator.get("/templates/topic/history").text  # kept as well
    assert coordinator.post("/templates/topic/revert", data={
        "csrf_token": token, "version": "99"}).status_code == 404
    assert coordinator.get("/templates/nosuch").status_code == 404


def _upload(client: httpx.Client, text: str, apply: bool = False,
            name: str = "roster.csv") -> httpx.Response:
    token = csrf_of(client.get("/roster").text)
    data = {"csrf_token": token, **({"apply": "1"} if apply else {})}
    return client.post("/roster", data=data, files={"file": (name, text.encode(), "text/csv")})


def _pair_ids(client: httpx.Client) -> list[str]:
    return sorted(p["pair_id"] for p in client.get("/api/status").json()["pairs"])


def test_a_roster_upload_shows_every_bad_line_and_changes_nothing(
        console: Console, coordinator: httpx.Client) -> None:
    roster = (console.program.folder / "roster.csv").read_text()
    lines = roster.splitlines()
    bad = "\n".join([*lines, "P7,New Mentor,not-an-address,New Mentee,nm@lib.example,"
                     "Lena Liaison,lena.liaison@lib.example,,,",
                     lines[1]]) + "\n"  # line 6: P1 a second time
    before = _pair_ids(coordinator)
    for apply in (False, True):
        response = _upload(coordinator, bad, apply=apply)
        assert response.status_code == 400
        problems = html.unescape(response.text)
        assert "roster.csv: line 5:" in problems and "not-an-address" in problems
        assert "line 6" in problems
        assert _pair_ids(coordinator) == before


def test_a_roster_upload_shows_the_changes_then_imports_them(console: Console,
                                                             coordinator: httpx.Client,
                                                             liaison_b: httpx.Client) -> None:
    lines = (console.program.folder / "roster.csv").read_text().splitlines()
    changed = [lines[0], lines[1].replace("Mia Mentor", "Mia Mentor-Smith"), lines[2],
               "P8,Ana Mentor,ana@lib.example,Bo Mentee,bo@lib.example,Omar Liaison,"
               "omar.liaison@lib.example,,,"]
    text = "\n".join(changed) + "\n"
    before = _pair_ids(coordinator)
    shown = _upload(coordinator, text)
    assert shown.status_code == 200
    page = html.unescape(shown.text)
    assert "1 added: P8" in page and "1 updated: P1" in page and "1 unchanged" in page
    assert "not in the file (kept, not deleted): P3" in page
    assert _pair_ids(coordinator) == before  # shown, not imported
    assert liaison_b.get("/").status_code == 200  # Omar looks after P3 ...
    done = _upload(coordinator, text, apply=True)
    assert done.status_code == 200 and "Imported roster.csv" in done.text
    assert _pair_ids(coordinator) == sorted({*before, "P8"})
    assert "Mia Mentor-Smith" in coordinator.get("/pairs/P1").text
    # ... and P8 now; with P3 out of the roster he sees P8 only
    assert liaison_b.get("/pairs/P3").status_code == 404
    assert liaison_b.get("/pairs/P8").status_code == 200


def test_a_roster_upload_without_a_file_says_so(coordinator: httpx.Client) -> None:
    token = csrf_of(coordinator.get("/roster").text)
    response = coordinator.post("/roster", data={"csrf_token": token},
                                files={"file": ("", b"", "text/csv")})
    assert response.status_code == 400 and 'id="roster-error"' in response.text


def _announce(client: httpx.Client, **data: str) -> httpx.Response:
    token = csrf_of(client.get("/announce").text)
    return client.post("/announce", data={"csrf_token": token, **data})


def _announcements(console: Console) -> list[str]:
    return [m.rcpt_tos[0] for m in console.smtp.messages
            if m.message()["X-Mailflow-Kind"] == "announcement"]


def test_an_announcement_is_previewed_then_sent_once(console: Console,
                                                    coordinator: httpx.Client) -> None:
    body = "Dear {{ recipient.first_name }},\n\nThe **spring social** is on 12 March."
    shown = _announce(coordinator, to="mentors", subject="Spring social <3", body=body,
                      preview="1")
    assert shown.status_code == 200, shown.text
    text = html.unescape(re.search(r'<pre id="preview-text">(.*?)</pre>', shown.text,
                                   re.S).group(1))
    assert text.startswith("Dear ") and "spring social" in text
    assert "Spring social &lt;3" in shown.text  # the subject, as text
    assert _announcements(console) == []
    sent = _announce(coordinator, to="mentors", subject="Spring social <3", body=body)
    assert sent.status_code == 200 and 'id="announce-sent"' in sent.text
    console.smtp.wait_for(len(console.smtp.messages))
    mentors = sorted(_announcements(console))
    assert mentors and all("mentor" in m or "@lib.example" in m for m in mentors)
    again = _announce(coordinator, to="mentors", subject="Spring social <3", body=body)
    assert again.status_code == 200 and "recorded by an earlier send" in again.text
    assert sorted(_announcements(console)) == mentors  # nobody got it twice


def test_an_announcement_that_does_not_render_sends_nothing(console: Console,
                                                          coordinator: httpx.Client) -> None:
    before = len(_announcements(console))
    for preview in ("1", ""):
        response = _announce(coordinator, to="all", subject="News",
                             body="Hello\n\n{{ recipient.nickname }}", preview=preview)
        assert response.status_code == 400
        assert "announcement.md:5:" in html.unescape(response.text), response.text
    unknown = _announce(coordinator, to="P404", subject="News", body="Hello")
    assert unknown.status_code == 400 and "P404" in html.unescape(unknown.text)
    assert len(_announcements(console)) == before


def test_a_template_missing_from_the_folder_opens_with_the_default(
        console: Console, coordinator: httpx.Client) -> None:
    (console.program.folder / "templates" / "login.md").unlink()
    page = coordinator.get("/templates/login")
    assert page.status_code == 200
    source = html.unescape(re.search(r'<textarea id="source"[^>]*>(.*?)</textarea>', page.text,
                                      re.S).group(1))
    assert source.startswith("Subject: Your sign-in link for {{ program.name }}")
    assert "https://mentoring.example.org/login/" in html.unescape(page.text)  # the preview
    with console.signed_in("omar.liaison@lib.example") as client:  # the default is sent
        assert client.get("/").status_code == 200
