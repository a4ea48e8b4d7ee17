"""The ack shows the lines keywords were read from, so a misreading shows (SPEC 3, UNDO)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from mailflow.domain.effects import Reply, decide
from mailflow.domain.keywords import parse_keywords
from mailflow.domain.model import Kind, Pair, Person, Role
from mailflow.render.engine import DEFAULT_TEMPLATE_DIR, Renderer
from mailflow.render.samples import sample_contexts

REF = date(2026, 10, 10)
MENTEE = Person("Mo Mentee", "mo@example.org", Role.MENTEE)
PAIR = Pair("P1", Person("Al Mentor", "al@example.org", Role.MENTOR), MENTEE,
            Person("Li Liaison", "li@example.org", Role.LIAISON))


def _ack_context(text: str) -> dict[str, object]:
    commands = parse_keywords(text, reference=REF).commands
    outcome = decide(Reply(PAIR, MENTEE, "<m1>", datetime(2026, 10, 10, 9, tzinfo=UTC), None,
                           commands, text, False), [])
    (ack,) = [e for e in outcome.emails if e.kind == Kind.ACK]
    return dict(ack.context)


def test_the_ack_context_names_each_line_a_keyword_was_read_from() -> None:
    context = _ack_context("Thanks!\nMET 3. Oktober, im Café\nsome words\n\nGOAL a poster")
    assert context["read_lines"] == ["MET 3. Oktober, im Café", "GOAL a poster"]
    assert _ack_context("Just a note, nothing else.")["read_lines"] == []


def test_the_ack_quotes_the_lines_and_offers_undo() -> None:
    sample = sample_contexts("ack")[0]
    line = "MET [3 Dec](http://evil.example) <b>coffee</b>"
    rendered = Renderer(DEFAULT_TEMPLATE_DIR).render(
        "ack", {**sample, "read_lines": [line]})
    assert f"> {line}" in rendered.text
    assert "reply UNDO" in rendered.text
    assert 'href="http://evil.example"' not in rendered.html  # the words, not a link
    assert "&lt;b&gt;coffee" in rendered.html and "<b>coffee" not in rendered.html


def test_no_lines_no_paragraph() -> None:
    sample = sample_contexts("ack")[1]
    rendered = Renderer(DEFAULT_TEMPLATE_DIR).render("ack", {**sample, "read_lines": []})
    assert "We read" not in rendered.text
