"""``serialize`` writes exactly what the standard SMTP policy writes, only faster."""

from __future__ import annotations

import email.policy
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow.adapters.smtp import serialize

HEADERS: list[tuple[str, str | Address | tuple[Address, ...]]] = [
    ("Subject", "Month 3: your discussion topic"),
    ("Subject", "Ziele für den Monat ✓"),
    ("Subject", "a literal =?utf-8?q?not_an_encoded_word?= in the text"),
    ("Subject", "two  spaces and\ta tab"),
    ("Subject", " leading and trailing "),
    ("Subject", "a long subject " * 8),
    ("Subject", ""),
    ("Subject", "x" * 120),
    ("From", Address("Smith, John (committee)", addr_spec="john@example.org")),
    ("From", Address('Quote "me"', addr_spec="q@example.org")),
    ("To", (Address("Zoë", addr_spec="z@example.org"), Address("Bo", addr_spec="b@ex.org"))),
    ("Reply-To", "replies+pair-7.topic.2026-10@mentoring.example.org"),
    ("Message-ID", make_msgid(domain="mailflow.test")),
    ("References", " ".join(f"<ref-{i}@mailflow.test>" for i in range(6))),
    ("Date", format_datetime(datetime(2026, 10, 1, 9, 0, tzinfo=UTC))),
    ("X-Mailflow-Pair", "P-017"),
    ("List-Unsubscribe", "<mailto:unsubscribe@example.org?subject=unsubscribe>"),
]


@pytest.mark.parametrize(("name", "value"), HEADERS)
@pytest.mark.parametrize("utf8", [False, True])
@pytest.mark.parametrize("eight_bit", [False, True])
def test_same_bytes_as_the_standard_policy(
    name: str, value: object, utf8: bool, eight_bit: bool
) -> None:
    message = EmailMessage()
    if name != "From":
        message["From"] = Address("Mentoring Committee", addr_spec="committee@example.org")
    message[name] = value
    message.set_content("Hallo Zoë\n.dot line\n" + "long line " * 20 + "\n")
    message.add_alternative("<p>Hallo Zoë</p>\n", subtype="html")
    standard = email.policy.SMTPUTF8 if utf8 else email.policy.SMTP
    if not eight_bit:
        standard = standard.clone(cte_type="7bit")
    data = serialize(message, utf8=utf8, eight_bit=eight_bit)  # sets the boundary first
    assert data == message.as_bytes(policy=standard)


@settings(max_examples=300, deadline=None)
@given(
    subject=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=90),
    name=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)
def test_same_bytes_for_any_printable_ascii(subject: str, name: str) -> None:
    message = EmailMessage()
    message["Subject"] = subject
    message["To"] = Address(name.strip(), addr_spec="mentee@example.org")
    message.set_content("hi\n")
    message.add_alternative("<p>hi</p>", subtype="html")
    data = serialize(message)
    assert data == message.as_bytes(policy=email.policy.SMTP)
