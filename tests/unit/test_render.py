"""The renderer and the shipped templates: real rendering, real MIME, no mocks."""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailflow.domain.ledger import GoalStatus
from mailflow.errors import TemplateError
from mailflow.render.context import reply_keywords
from mailflow.render.engine import (
    DEFAULT_TEMPLATE_DIR,
    TEMPLATE_NAMES,
    Renderer,
    build_message,
    template_for,
)
from mailflow.render.filters import longdate
from mailflow.render.mime import OutgoingMessage
from mailflow.render.samples import sample_contexts

LEFTOVERS = re.compile(r"\{\{|\{%|\bNone\b|Undefined")


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(DEFAULT_TEMPLATE_DIR)


@pytest.fixture()
def tmp_templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATE_DIR, folder)
    return folder


def _cases() -> list[tuple[str, int]]:
    return [(name, i) for name in TEMPLATE_NAMES for i in range(len(sample_contexts(name)))]


def _message(renderer: Renderer, name: str = "topic", **overrides: Any) -> OutgoingMessage:
    rendered = renderer.render(name, sample_contexts(name)[0])
    args: dict[str, Any] = {
        "sender": "Mentoring Committee <mentoring@example.org>",
        "to": "zoe.nunez@example.edu",
        "to_name": "Zoë Ñúñez",
        "reply_to": "mentoring+mf-0123456789abcdef@example.org",
        "message_id": "<abc123.mailflow@example.org>",
        "kind": "topic",
        "pair_id": "P07",
        "date": datetime(2026, 12, 1, 15, 0, tzinfo=UTC),
    }
    args.update(overrides)
    return build_message(rendered, **args)


def _roundtrip(msg: OutgoingMessage) -> EmailMessage:
    parsed = message_from_bytes(msg.data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


# --- shipped templates ---------------------------------------------------------


@pytest.mark.parametrize(("name", "index"), _cases())
def test_every_template_renders_cleanly(renderer: Renderer, name: str, index: int) -> None:
    rendered = renderer.render(name, sample_contexts(name)[index])
    for part in (rendered.subject, rendered.text, rendered.html):
        assert part.strip()
        assert not LEFTOVERS.search(part), LEFTOVERS.search(part)
    assert "\n" not in rendered.subject
    assert rendered.html.lstrip().lower().startswith("<!doctype html>")


def test_shipped_templates_pass_check(renderer: Renderer) -> None:
    assert renderer.check() == []


def test_participant_emails_end_with_their_keywords(renderer: Renderer) -> None:
    text = renderer.render("topic", sample_contexts("topic")[0]).text
    tail = text[text.rindex("---"):]
    for word in ("MET", "NOT MET", "GOAL", "HELP", "PAUSE", "RESUME", "END"):
        assert f"- {word}:" in tail
    assert "LETTER" not in tail


def test_reply_keywords_follow_role_and_term() -> None:
    words = lambda kind, role, ended=False: [  # noqa: E731
        k["word"] for k in reply_keywords(kind, role, term_ended=ended)
    ]
    assert words("feedback", "mentor", True) == ["RATING", "LETTER"]
    assert words("feedback", "mentee", True) == ["RATING"]
    assert words("escalation", "liaison") == ["RESOLVED"]
    assert words("digest", "coordinator") == []
    assert "MET" in words("nudge", "mentee")
    assert words("topic", "mentee") == ["MET", "NOT MET", "GOAL", "DONE", "HELP", "PAUSE",
                                        "RESUME", "END"]
    assert words("intro", "mentor") == ["MET", "NOT MET", "CONTACTED", "GOAL", "HELP",
                                        "PAUSE", "RESUME", "END"]
    assert "CONTACTED" not in words("intro", "mentee")
    assert words("ack", "mentee")[-1] == "UNDO" and "UNDO" in words("ack", "mentor", True)
    assert "RATING" in words("midpoint", "mentee") and "DONE" in words("midpoint", "mentor")


@pytest.mark.parametrize("name", ["topic", "closing_mentee", "closing_mentor"])
def test_goals_are_numbered_and_reached_ones_marked(renderer: Renderer, name: str) -> None:
    ctx = sample_contexts(name)[0]
    ctx["pair"] = {**ctx["pair"], "goals": [
        GoalStatus(1, "Teach a session"), GoalStatus(2, "Join a committee", reached=True)]}
    rendered = renderer.render(name, ctx)
    assert "1. Teach a session\n" in rendered.text
    assert "2. Join a committee (reached)\n" in rendered.text
    assert "DONE" in rendered.text
    assert "<ol" in rendered.html and "Join a committee (reached)</li>" in rendered.html


def test_a_topic_email_when_every_goal_is_reached(renderer: Renderer) -> None:
    ctx = sample_contexts("topic")[0]
    ctx["pair"] = {**ctx["pair"], "goals": [GoalStatus(1, "Teach a session", reached=True)]}
    text = renderer.render("topic", ctx).text
    assert "You have reached every goal you recorded" in text and "DONE 1" not in text


def test_topic_body_is_markdown_not_escaped(renderer: Renderer) -> None:
    ctx = sample_contexts("topic")[0]
    ctx["topic"] = {"month": 4, "title": "Service", "body": "Read *this* & [that](https://ala.org)."}
    rendered = renderer.render("topic", ctx)
    assert "<em" in rendered.html and "this</em>" in rendered.html
    assert 'href="https://ala.org"' in rendered.html
    assert "Read *this* & [that](https://ala.org)." in rendered.text


def test_digest_is_a_table_in_html_and_a_list_in_text(renderer: Renderer) -> None:
    rendered = renderer.render("digest_coordinator", sample_contexts("digest_coordinator")[0])
    assert "<table" in rendered.html and "<td" in rendered.html
    assert "| P07 |" not in rendered.text and "|---" not in rendered.text
    assert "- P07 (active)" in rendered.text


def test_template_for() -> None:
    assert template_for("intro", "mentor") == "intro_mentor"
    assert template_for("closing", "mentee") == "closing_mentee"
    assert template_for("topic", "mentee") == "topic"
    assert template_for("digest", "liaison") == "digest"
    assert template_for("digest", "coordinator") == "digest_coordinator"
    with pytest.raises(TemplateError):
        template_for("intro", "liaison")
    with pytest.raises(TemplateError):
        template_for("newsletter", "mentor")


def test_date_filters() -> None:
    assert longdate(date(2026, 9, 1)) == "Tuesday, September 1, 2026"
    assert longdate(datetime(2026, 9, 1, 23, 0, tzinfo=UTC)) == "Tuesday, September 1, 2026"
    assert longdate("2026-09-01") == "Tuesday, September 1, 2026"
    assert longdate(None) == ""


def test_dates_and_times_are_written_the_locale_way_in_the_recipients_zone(
        renderer: Renderer) -> None:
    from mailflow.render.filters import datetime_filter

    assert longdate(date(2026, 12, 21), "en_US") == "Monday, December 21, 2026"
    assert longdate(date(2026, 12, 21), "fr_FR") == "lundi 21 décembre 2026"
    from mailflow.render.filters import dates_in_text

    assert dates_in_text("Meeting on 2026-12-15", "en_US") == "Meeting on December 15, 2026"
    assert dates_in_text("Paused until 2027-01-05", "fr_FR") == "Paused until 5 janvier 2027"
    assert dates_in_text("key 2026-13-45 stays", "en_US") == "key 2026-13-45 stays"
    moment = datetime(2026, 12, 11, 23, 0, tzinfo=UTC)  # 17:00 in Chicago
    assert datetime_filter(moment, "en_US", "America/Chicago") == "December 11, 2026, 5:00\u202fPM"
    assert datetime_filter(moment, "fr_FR", "Europe/Paris").startswith("12 décembre 2026")
    ctx = sample_contexts("escalation")[0]
    ctx["escalation"] = {**ctx["escalation"], "opened_at": moment}
    ctx["program"] = {**ctx["program"], "locale": "fr_FR", "timezone": "America/Chicago"}
    ctx["recipient"] = {**ctx["recipient"], "timezone": "America/Chicago"}
    text = renderer.render("escalation", ctx).text
    assert "11 décembre 2026 17:00" in text.replace(",", "").replace(" à", ""), text


# --- HTML safety and CSS -----------------------------------------------------------


def test_markup_in_roster_values_is_escaped_in_html(renderer: Renderer) -> None:
    ctx = sample_contexts("topic")[0]
    evil = "<script>alert(1)</script>"
    ctx["partner"] = {**ctx["partner"], "name": evil}
    ctx["pair"] = {**ctx["pair"], "goals": [GoalStatus(1, "<img src=x onerror=alert(1)>")]}
    rendered = renderer.render("topic", ctx)
    assert "<script" not in rendered.html and "<img" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert evil in rendered.text


def test_escalation_text_is_quoted_and_escaped(renderer: Renderer) -> None:
    ctx = sample_contexts("escalation")[0]
    ctx["escalation"] = {**ctx["escalation"], "text": "<b>bold</b>\nsecond line"}
    rendered = renderer.render("escalation", ctx)
    assert "<blockquote" in rendered.html and "&lt;b&gt;bold" in rendered.html
    assert "> <b>bold</b>\n> second line" in rendered.text


def test_css_is_inlined(renderer: Renderer) -> None:
    html = renderer.render("nudge", sample_contexts("nudge")[0]).html
    assert "<style" not in html
    assert re.search(r'<p style="[^"]+"', html)
    assert re.search(r'<body style="[^"]+"', html)


# --- errors name file and line -------------------------------------------------------


def test_unknown_variable_names_file_and_line(tmp_templates: Path) -> None:
    path = tmp_templates / "topic.md"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[6] += " {{ goalz }}"
    path.write_text("\n".join(lines), encoding="utf-8")
    renderer = Renderer(tmp_templates)
    with pytest.raises(TemplateError, match=r"^templates/topic\.md:7: 'goalz' is undefined$"):
        renderer.render("topic", sample_contexts("topic")[0])
    assert renderer.check() == ["templates/topic.md:7: 'goalz' is undefined"]


def test_syntax_error_names_file_and_line(tmp_templates: Path) -> None:
    (tmp_templates / "nudge.md").write_text("Subject: hi\n\nfine\n{% if %}\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"^templates/nudge\.md:4: "):
        Renderer(tmp_templates).render("nudge", sample_contexts("nudge")[0])


def test_error_in_subject_and_in_partial(tmp_templates: Path) -> None:
    (tmp_templates / "letter.md").write_text("Subject: {{ nope }}\n\nbody\n", encoding="utf-8")
    (tmp_templates / "_reply_keywords.md").write_text("\n{{ typo }}\n", encoding="utf-8")
    problems = Renderer(tmp_templates).check()
    assert "templates/letter.md:1: 'nope' is undefined" in problems
    assert "templates/_reply_keywords.md:2: 'typo' is undefined" in problems


def test_missing_subject_line(tmp_templates: Path) -> None:
    (tmp_templates / "alert.md").write_text("Hello\n\nbody\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"^templates/alert\.md:1: the first line must be"):
        Renderer(tmp_templates).render("alert", sample_contexts("alert")[0])


@pytest.mark.parametrize(
    "expression",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ recipient.__class__.__subclasses__() }}",
        "{{ program.coordinators.append('x') }}",
        "{% include '../../etc/passwd' %}",
    ],
)
def test_sandbox_escapes_fail(tmp_templates: Path, expression: str) -> None:
    (tmp_templates / "ack.md").write_text(f"Subject: hi\n\nline 3\n{expression}\n", "utf-8")
    with pytest.raises(TemplateError, match=r"^templates/ack\.md:4: "):
        Renderer(tmp_templates).render("ack", sample_contexts("ack")[0])


def test_edited_template_is_reloaded(tmp_templates: Path) -> None:
    renderer = Renderer(tmp_templates)
    ctx = sample_contexts("letter")[0]
    renderer.render("letter", ctx)
    path = tmp_templates / "letter.md"
    path.write_text("Subject: Changed\n\nNew body\n", encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert renderer.render("letter", ctx).subject == "Changed"


# --- the MIME message --------------------------------------------------------------


def test_message_structure_and_headers(renderer: Renderer) -> None:
    msg = _roundtrip(_message(renderer, in_reply_to="<parent.mailflow@example.org>"))
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert msg["Message-ID"] == "<abc123.mailflow@example.org>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Mailflow-Kind"] == "topic"
    assert msg["X-Mailflow-Pair"] == "P07"
    assert msg["Reply-To"] == "mentoring+mf-0123456789abcdef@example.org"
    assert msg["In-Reply-To"] == "<parent.mailflow@example.org>"
    assert msg["References"] == "<parent.mailflow@example.org>"
    assert msg["Date"].datetime == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    assert msg["From"].addresses[0].display_name == "Mentoring Committee"
    assert "Zoë Ñúñez" in parts[0].get_content()


def test_message_without_pair_or_parent(renderer: Renderer) -> None:
    msg = _roundtrip(_message(renderer, pair_id=None, kind="digest"))
    assert msg["X-Mailflow-Pair"] is None
    assert msg["In-Reply-To"] is None and msg["References"] is None
    assert msg["X-Mailflow-Kind"] == "digest"


def test_non_ascii_names_are_encoded_and_round_trip(renderer: Renderer) -> None:
    msg = _message(renderer, "intro_mentee", sender="Comité de Mentoría <mentoring@example.org>")
    raw = msg.data
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    parsed = _roundtrip(msg)
    to = parsed["To"].addresses[0]
    assert (to.display_name, to.addr_spec) == ("Zoë Ñúñez", "zoe.nunez@example.edu")
    assert parsed["From"].addresses[0].display_name == "Comité de Mentoría"
    assert "Ñúñez" in parsed["Subject"]


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_line_breaks_cannot_inject_headers(renderer: Renderer, newline: str) -> None:
    ctx = sample_contexts("topic")[0]
    ctx["partner"] = {**ctx["partner"], "name": f"Eve{newline}Bcc: victim@example.com"}
    ctx["topic"] = {**ctx["topic"], "title": f"Topic{newline}X-Injected: yes"}
    rendered = renderer.render("topic", ctx)
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    msg = build_message(
        rendered,
        sender=f"Committee{newline}Bcc: a@example.com <mentoring@example.org>",
        to="zoe.nunez@example.edu",
        to_name=f"Zoë{newline}Bcc: victim@example.com",
        reply_to="mentoring@example.org",
        message_id="<abc.mailflow@example.org>",
        kind="topic",
        pair_id=f"P07{newline}X-Injected: yes",
        date=datetime(2026, 12, 1, tzinfo=UTC),
    )
    parsed = _roundtrip(msg)
    assert parsed["Bcc"] is None
    assert parsed["X-Injected"] is None
    assert len(parsed["To"].addresses) == 1
    assert parsed["To"].addresses[0].addr_spec == "zoe.nunez@example.edu"


def test_bad_message_id_is_refused(renderer: Renderer) -> None:
    with pytest.raises(ValueError):
        _message(renderer, message_id="<a@b>\r\nBcc: x@example.com")
