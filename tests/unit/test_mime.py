"""mime.build_message writes message bytes itself: check them against the standard
library, which parses them back, and against a message the standard library builds
from the same values (the oracle: what mailflow sent before it wrote bytes itself)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, message_from_string, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

import pytest

from mailflow.render.engine import DEFAULT_TEMPLATE_DIR, TEMPLATE_NAMES, RenderedEmail, Renderer
from mailflow.render.mime import MAX_LINE, OutgoingMessage, build_message
from mailflow.render.samples import sample_contexts

WHEN = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
ARGS: dict[str, Any] = {
    "sender": "Mentoring Committee <mentoring@example.org>",
    "to": "zoe.nunez@example.edu",
    "to_name": "Zoë Ñúñez",
    "reply_to": "mentoring+mf-0123456789abcdef@example.org",
    "message_id": "<abc123.mailflow@example.org>",
    "kind": "topic",
    "pair_id": "P07",
    "date": WHEN,
    "in_reply_to": "<parent.mailflow@example.org>",
}


def _build(rendered: RenderedEmail, **overrides: Any) -> OutgoingMessage:
    return build_message(rendered, **{**ARGS, **overrides})


def _stdlib(rendered: RenderedEmail, **overrides: Any) -> EmailMessage:
    """The same message composed by the standard library (policy.default)."""
    a = {**ARGS, **overrides}
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = a["sender"]
    msg["To"] = f'"{a["to_name"]}" <{a["to"]}>' if a["to_name"] else a["to"]
    msg["Reply-To"] = a["reply_to"]
    msg["Message-ID"] = a["message_id"]
    msg["X-Mailflow-Kind"] = a["kind"]
    if a["pair_id"]:
        msg["X-Mailflow-Pair"] = a["pair_id"]
    msg.set_content(rendered.text, charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return message_from_bytes(msg.as_bytes(policy=policy.SMTP), policy=policy.default)  # type: ignore[return-value]


def _parsed(msg: OutgoingMessage) -> EmailMessage:
    parsed = msg.email()
    assert not parsed.defects, parsed.defects
    for part in parsed.walk():
        assert not part.defects, part.defects
    return parsed


def _same(ours: EmailMessage, theirs: EmailMessage) -> None:
    for name in ("Subject", "From", "To", "Reply-To", "Message-ID", "X-Mailflow-Kind",
                 "X-Mailflow-Pair"):
        # (the stdlib's own folding can add spaces around encoded words)
        assert " ".join(str(ours[name]).split()) == " ".join(str(theirs[name]).split()), name
    for name in ("From", "To", "Reply-To"):
        assert [(a.display_name, a.addr_spec) for a in ours[name].addresses] == \
            [(a.display_name, a.addr_spec) for a in theirs[name].addresses], name
    for kind in ("plain", "html"):
        ours_part, theirs_part = ours.get_body((kind,)), theirs.get_body((kind,))
        assert ours_part is not None and theirs_part is not None
        assert _lf(ours_part.get_content()) == _lf(theirs_part.get_content()), kind


def _lf(text: str) -> str:
    """The parser leaves CRLF in 7bit parts; compare line breaks as LF."""
    return text.replace("\r\n", "\n")


def _raw_header(data: bytes, name: str) -> str:
    """A header's value as written, unfolded, not decoded."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8")
    unfolded = re.sub(r"\r\n(?=[ \t])", "", head)
    [value] = [line.split(":", 1)[1].strip() for line in unfolded.split("\r\n")
               if line.lower().startswith(name.lower() + ":")]
    return value


def _check_wire_format(data: bytes) -> None:
    """CRLF only, no line over 998 octets, headers folded to 78 columns."""
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    lines = data.split(b"\r\n")
    assert max(map(len, lines)) <= 998
    head = data.split(b"\r\n\r\n", 1)[0]
    assert max(map(len, head.split(b"\r\n"))) <= MAX_LINE


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(DEFAULT_TEMPLATE_DIR)


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_template_reads_back_as_the_standard_library_would_send_it(
    renderer: Renderer, name: str
) -> None:
    for ctx in sample_contexts(name):
        rendered = renderer.render(name, ctx)
        msg = _build(rendered)
        _check_wire_format(msg.data)
        assert msg.data.isascii() and not msg.utf8
        _same(_parsed(msg), _stdlib(rendered))


NAMES = [
    "Zoë Ñúñez",
    'Eve "the admin", victim@evil.example <x@y>',
    "Dr. Priya Raman, PhD",
    "Ñ" * 40 + " Łukasz Żółć-Brzęczyszczykiewicz",
    "王小明",
    "=?utf-8?q?looks_encoded?=",
    "back\\slash",
]


@pytest.mark.parametrize("to_name", NAMES)
def test_display_names_survive_as_one_address(renderer: Renderer, to_name: str) -> None:
    rendered = renderer.render("topic", sample_contexts("topic")[0])
    msg = _build(rendered, to_name=to_name)
    _check_wire_format(msg.data)
    [address] = _parsed(msg)["To"].addresses  # one address, whatever the name holds
    assert address.addr_spec == ARGS["to"]
    # decoded as RFC 2047 says (whitespace between encoded words dropped); the stdlib's
    # header parser keeps that whitespace, so it is not the judge of the name itself
    shown, addr = parseaddr(str(make_header(decode_header(_raw_header(msg.data, "To")))))
    assert addr == ARGS["to"]
    # long names are cut to fit one line (mime._fits_one_line), never split into addresses
    assert shown == to_name or (shown.endswith("…") and to_name.startswith(shown[:-1]))


SUBJECTS = [
    "Month 3 of your mentorship: Building a professional network beyond your library",
    "Réunion du mois : « Le réseau professionnel » avec Zoë Ñúñez et l'équipe du comité",
    "x" * 300,
    "A subject that holds =?utf-8?q?an_encoded_word?= literally",
    "短い件名",
]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_subjects_are_folded_and_read_back_exactly(subject: str) -> None:
    rendered = RenderedEmail(subject=subject, text="Hello\n", html="<p>Hello</p>")
    msg = _build(rendered)
    _check_wire_format(msg.data)
    assert _parsed(msg)["Subject"] == subject


BODIES = [
    "plain ASCII, short lines\n",
    "trailing spaces   \nand a tab\t\n",
    ".\n.. a line of dots, and\nFrom the start of a line\n",
    "a very long line " * 100 + "\n",
    "Zoë wrote: « ça va » — 王小明\n",
    "CRLF\r\nand CR\ronly\n",
    "--=_mailflow_0123 a line that looks like a boundary\n",
    "ends without a newline",
    "= signs =3D and =\n",
]


@pytest.mark.parametrize("text", BODIES)
def test_bodies_read_back_exactly(text: str) -> None:
    html = "<p>" + text.replace("\n", "<br>") + "</p>"
    msg = _build(RenderedEmail(subject="s", text=text, html=html))
    _check_wire_format(msg.data)
    parsed = _parsed(msg)
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    plain, rich = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert plain is not None and rich is not None
    assert _lf(plain.get_content()).rstrip("\n") == expected.rstrip("\n")
    assert _lf(rich.get_content()).rstrip("\n") == html.replace("\r\n", "\n").replace("\r", "\n")
    assert len(list(parsed.iter_parts())) == 2


def test_an_address_that_is_not_ascii_needs_smtputf8() -> None:
    msg = _build(RenderedEmail("s", "t\n", "<p>t</p>"), to="zoë@bücherei.example")
    assert msg.utf8
    _check_wire_format(msg.data)
    # raw UTF-8 headers (RFC 6532): read them as text, as an SMTPUTF8 server does
    parsed = message_from_string(msg.data.decode("utf-8"), policy=policy.default)
    [address] = parsed["To"].addresses
    assert address.addr_spec == "zoë@bücherei.example"
    assert address.display_name == "Zoë Ñúñez"


def test_envelope_facts_and_bytes() -> None:
    msg = _build(RenderedEmail("s", "t\n", "<p>t</p>"))
    assert msg.message_id == ARGS["message_id"]
    assert msg.sender == "mentoring@example.org"
    assert bytes(msg) == msg.data


@pytest.mark.parametrize("field,value", [
    ("sender", "not an address"), ("to", "@example.org"), ("reply_to", "nobody@"),
    ("message_id", "<a@b>\r\nBcc: x@example.com"), ("in_reply_to", "no-brackets@x"),
])
def test_bad_values_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValueError):
        _build(RenderedEmail("s", "t\n", "<p>t</p>"), **{field: value})
