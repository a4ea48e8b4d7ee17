"""parse_message on hand-made mail: classification, new text, and never an exception."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_string
from email.charset import BASE64, QP, Charset
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import getaddresses

import pytest

from bench.reply_formats import ATTRIBUTIONS, HISTORIES
from mailflow.domain.keywords import parse_keywords
from mailflow.domain.replies import (
    _ENCODED_FROM_RE,
    _SIMPLE_FROM_RE,
    _addresses,
    _parsed_sender,
    _sender,
    parse_message,
)

REF = date(2026, 10, 10)
OUR_ID = "<0123abcd.mailflow@example.org>"
# Our own topic email, as it comes back quoted: every keyword, at the start of a line.
OURS = """Hello Ana,

This month's topic is networking. Reply with one word at the start of a line:
MET (and the date) when you met, NOT MET if you could not,
GOAL <text> to record a goal, HELP to reach your liaison,
PAUSE until <date>, RESUME, END to end the match, LETTER, RESOLVED.

The Mentoring Committee"""


def _message(body: str, *, subject: str = "Re: Your October topic", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = headers.pop("from_", "Ana Pérez <Ana.Perez@Example.COM>")
    msg["To"] = "mentoring+mf-0123456789abcdef@example.org"
    msg["Subject"] = subject
    msg["Date"] = "Sat, 10 Oct 2026 09:30:00 +0200"
    msg["Message-ID"] = "<reply-1@mail.example.com>"
    msg["In-Reply-To"] = OUR_ID
    msg["References"] = f"<older@example.org> {OUR_ID}"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))


def _keywords(raw: bytes) -> list[str]:
    parsed = parse_message(raw)
    assert parsed.kind == "human"
    return [c.name for c in parse_keywords(parsed.new_text, reference=REF).commands]


WROTE = "On Fri, Oct 9, 2026 at 8:00 AM Mentoring Committee <mentoring@example.org> wrote:"
STYLES = {
    "gmail": f"{{reply}}\n\n{WROTE}\n\n{_quoted(OURS)}\n",
    "gmail_wrapped": "{reply}\n\nOn Fri, Oct 9, 2026 at 8:00 AM Mentoring Committee <\n"
    f"mentoring@example.org> wrote:\n\n{_quoted(OURS)}\n",
    "outlook_desktop": "{reply}\n\n________________________________\n"
    "From: Mentoring Committee <mentoring@example.org>\nSent: Friday, October 9, 2026 8:00 AM\n"
    f"To: Ana Pérez <ana.perez@example.com>\nSubject: Your October topic\n\n{OURS}\n",
    "outlook_original": "{reply}\n\n-----Original Message-----\n"
    "From: Mentoring Committee [mailto:mentoring@example.org]\nSent: Friday, October 09, 2026\n"
    f"To: Ana Pérez\nSubject: Your October topic\n\n{OURS}\n",
    "outlook_web": "{reply}\n\nFrom: Mentoring Committee <mentoring@example.org>\n"
    "Sent: Friday, 9 October 2026 08:00\nTo: ana.perez@example.com\n"
    f"Subject: Your October topic\n\n{OURS}\n",
    "apple_mail": "{reply}\n\n> On 9 Oct 2026, at 08:00, Mentoring Committee "
    f"<mentoring@example.org> wrote:\n> \n{_quoted(OURS)}\n",
    "iphone": "{reply}\n\nSent from my iPhone\n\n> On Oct 9, 2026, at 8:00 AM, Mentoring "
    f"Committee <mentoring@example.org> wrote:\n> \n{_quoted(OURS)}\n",
    "german": "{reply}\n\nAm Fr., 9. Okt. 2026 um 08:00 Uhr schrieb Mentoring Committee <"
    f"mentoring@example.org>:\n\n{_quoted(OURS)}\n",
    "french": "{reply}\n\nLe ven. 9 oct. 2026 à 08:00, Mentoring Committee "
    f"<mentoring@example.org> a écrit :\n\n{_quoted(OURS)}\n",
    "forwarded": "{reply}\n\n---------- Forwarded message ---------\nFrom: Mentoring Committee "
    "<mentoring@example.org>\nDate: Fri, Oct 9, 2026 at 8:00 AM\nSubject: Your October topic\n"
    f"To: <ana.perez@example.com>\n\n{OURS}\n",
    "signature": "{reply}\n\n-- \nAna Pérez\nLibrarian, Branch 3\nHELP desk: 555-0100\n\n"
    f"{WROTE}\n{_quoted(OURS)}\n",
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_keyword_above_the_quote_counts_and_the_quoted_ones_never(style: str) -> None:
    reply = "MET yesterday, we talked about her portfolio.\n\nThanks!\nAna"
    raw = _message(STYLES[style].format(reply=reply))
    assert _keywords(raw) == ["met"]
    assert parse_message(raw).new_text.startswith("MET yesterday")


@pytest.mark.parametrize("style", sorted(STYLES))
def test_no_keyword_above_the_quote_finds_none(style: str) -> None:
    raw = _message(STYLES[style].format(reply="Thanks, nothing to report yet.\n\nAna"))
    assert _keywords(raw) == []
    assert parse_message(raw).new_text.startswith("Thanks, nothing to report")


def test_bottom_posted_reply_below_the_quote() -> None:
    raw = _message(f"{WROTE}\n{_quoted(OURS)}\n\nGOAL: get a reference letter\n")
    assert _keywords(raw) == ["goal"]


def test_interleaved_reply() -> None:
    body = f"{WROTE}\n> Hello Ana,\n\nHi!\n\n> This month's topic.\n\nHELP I am stuck\n"
    assert _keywords(_message(body)) == ["help"]


def test_headers_are_read() -> None:
    parsed = parse_message(_message("MET"))
    assert parsed.kind == "human"
    assert parsed.from_address == "ana.perez@example.com"
    assert parsed.from_name == "Ana Pérez"
    assert parsed.to_addresses == ("mentoring+mf-0123456789abcdef@example.org",)
    assert parsed.message_id == "<reply-1@mail.example.com>"
    assert parsed.thread_ids == (OUR_ID, "<older@example.org>")
    assert parsed.date == datetime(2026, 10, 10, 7, 30, tzinfo=UTC)
    assert parsed.subject == "Re: Your October topic"
    assert parsed.bounce is None and parsed.problems == ()


def test_html_only_mail_is_converted_first() -> None:
    msg = EmailMessage()
    msg["From"] = "ana@example.com"
    msg["Subject"] = "Re: topic"
    html = (
        "<html><body><div>NOT MET - travelling this month</div><br>"
        f'<div class="gmail_quote">{WROTE}<blockquote><p>Reply MET or HELP</p>'
        "<p>GOAL ...</p></blockquote></div></body></html>"
    )
    msg.set_content(html, subtype="html")
    parsed = parse_message(msg.as_bytes())
    assert parsed.new_text == "NOT MET - travelling this month"
    assert [c.name for c in parse_keywords(parsed.new_text, reference=REF).commands] == ["not_met"]


def test_outlook_html_reply() -> None:
    html = (
        "<html><body><p>HELP: my mentee has not answered since August.</p>"
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt"><p><b>From:</b> Mentoring '
        "&lt;mentoring@example.org&gt;<br><b>Sent:</b> Friday, October 9, 2026 8:00 AM<br>"
        "<b>To:</b> Ana<br><b>Subject:</b> Your October topic</p></div>"
        "<p>MET (and the date) when you met</p><p>END to end the match</p></body></html>"
    )
    msg = MIMEText(html, "html", "utf-8")
    msg["From"] = "ana@example.com"
    names = _names_of(parse_message(msg.as_bytes()).new_text)
    assert names == ["help"]


def _names_of(text: str) -> list[str]:
    return [c.name for c in parse_keywords(text, reference=REF).commands]


@pytest.mark.parametrize("cte", ["quoted-printable", "base64"])
def test_transfer_encodings(cte: str) -> None:
    cs = Charset("utf-8")
    cs.body_encoding = QP if cte == "quoted-printable" else BASE64
    msg = MIMEText("", "plain", "utf-8")
    del msg["Content-Transfer-Encoding"]
    msg.set_payload("MET hier, café très sympa — à bientôt\n\n" + _quoted(OURS), cs)
    msg["From"] = "ana@example.com"
    raw = msg.as_bytes()
    assert f"Content-Transfer-Encoding: {cte}".encode() in raw
    parsed = parse_message(raw)
    assert parsed.new_text == "MET hier, café très sympa — à bientôt"


@pytest.mark.parametrize(
    ("charset", "text"),
    [("iso-8859-1", "MET à la bibliothèque"), ("windows-1252", "MET – “great” chat"),
     ("koi8-r", "MET встреча в библиотеке")],
)
def test_non_utf8_charsets(charset: str, text: str) -> None:
    msg = MIMEText(text + "\n", "plain", charset)
    msg["From"] = "ana@example.com"
    parsed = parse_message(msg.as_bytes())
    assert parsed.new_text == text
    assert parsed.problems == ()


def test_unknown_charset_is_a_problem_not_an_error() -> None:
    raw = (b"From: ana@example.com\nSubject: hi\nMIME-Version: 1.0\n"
           b"Content-Type: text/plain; charset=x-no-such-charset\n\nMET today\n")
    parsed = parse_message(raw)
    assert parsed.new_text == "MET today"
    assert any("x-no-such-charset" in p for p in parsed.problems)


def test_wrong_charset_label_still_reads() -> None:
    raw = (b"From: ana@example.com\nContent-Type: text/plain; charset=us-ascii\n\n"
           b"MET caf\xc3\xa9\n")
    parsed = parse_message(raw)
    assert parsed.new_text == "MET café"
    assert parsed.problems


def test_twenty_megabyte_attachment() -> None:
    msg = MIMEMultipart()
    msg["From"] = "ana@example.com"
    msg.attach(MIMEText("GOAL: read the attached report\n", "plain", "utf-8"))
    attachment = EmailMessage()
    attachment.set_content(b"\x00" * (20 * 1024 * 1024), maintype="application",
                           subtype="octet-stream", filename="big.bin")
    msg.attach(attachment)
    parsed = parse_message(msg.as_bytes())
    assert parsed.kind == "human"
    assert parsed.new_text == "GOAL: read the attached report"


def test_message_without_body() -> None:
    parsed = parse_message(b"From: ana@example.com\nSubject: MET\n\n")
    assert parsed.kind == "human" and parsed.new_text == ""
    parsed = parse_message(b"From: ana@example.com\nContent-Type: multipart/mixed; boundary=x\n\n")
    assert parsed.new_text == "" and parsed.problems


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"From: <<<@@@>>>\nDate: not a date\nMessage-ID: none\nSubject: =?utf-8?q?broken\n\nhi",
        b"Subject: " + b"x" * 200_000 + b"\n\nbody",
        b"From: a@b.c\nContent-Type: multipart/alternative\n\n--\n--\n",
        b"From: a@b.c\nContent-Type: text/plain; charset=\"\n\nMET",
        b"From: a@b.c\nContent-Transfer-Encoding: base64\n\n!!!not base64!!!",
        b"X-Weird\n\nno colon header",
        b"From: =?unknown-8bit?b?w6k=?= <a@b.c>\nDate: Mon, 99 Foo 2026 99:99:99\n\nMET",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\n"
        b"Content-Type: message/delivery-status\n\nAction: failed\n--b--\n",
    ],
)
def test_malformed_input_never_raises(raw: bytes) -> None:
    parsed = parse_message(raw)
    assert parsed.kind in {"bounce", "delivery_report", "complaint", "auto_reply", "human"}


def test_malformed_headers_are_recorded() -> None:
    parsed = parse_message(b"From: <<<@@@>>>\nDate: not a date\n\nMET")
    assert parsed.from_address == "" and parsed.date is None
    assert parsed.problems


@pytest.mark.parametrize(
    ("header", "value"),
    [("Auto-Submitted", "auto-replied"), ("Auto-Submitted", "auto-generated; owner=x"),
     ("X-Autoreply", "yes"), ("X-Autorespond", "On vacation"), ("Precedence", "bulk"),
     ("Precedence", "junk"), ("Precedence", "list"), ("Precedence", "auto_reply")],
)
def test_auto_reply_headers(header: str, value: str) -> None:
    raw = _message("MET\nI am away until Monday.", **{header.replace("-", "_"): value})
    assert parse_message(raw).kind == "auto_reply"


# An ordinary reply written in Outlook for Microsoft 365, as Exchange Online hands it on:
# X-Auto-Response-Suppress (which asks *others* not to auto-reply), Thread-Index, the
# x-ms-exchange-* headers, and an HTML body with Outlook's reply header block.
OUTLOOK_REPLY = """\
From: Ana Perez <ana.perez@example.com>
To: Mentoring <mentoring+mf-0123456789abcdef@example.org>
Subject: RE: Your October topic
Thread-Topic: Your October topic
Thread-Index: AQHZ8k3Lq2pJ7fX0S0uV1cLrGm6s9g==
Date: Sat, 10 Oct 2026 07:30:00 +0000
Message-ID: <AM0PR07MB1234ABCD@AM0PR07MB1234.eurprd07.prod.outlook.com>
In-Reply-To: <0123abcd.mailflow@example.org>
References: <0123abcd.mailflow@example.org>
Accept-Language: en-GB, en-US
Content-Language: en-GB
X-MS-Has-Attach:
X-MS-TNEF-Correlator:
X-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply
x-ms-publictraffictype: Email
x-ms-exchange-messagesentrepresentingtype: 1
x-ms-exchange-transport-crosstenantheadersstamped: AM0PR07MB1234
x-ms-exchange-crosstenant-originalarrivaltime: 10 Oct 2026 07:30:00.0000 (UTC)
x-ms-exchange-crosstenant-fromentityheader: Hosted
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="_000_AM0PR07MB1234_"

--_000_AM0PR07MB1234_
Content-Type: text/html; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

<html><head><meta http-equiv=3D"Content-Type" content=3D"text/html; charset=3D=
us-ascii"><style type=3D"text/css" style=3D"display:none;"> P {margin-top:0;m=
argin-bottom:0;} </style></head><body dir=3D"ltr"><div class=3D"elementToProo=
f" style=3D"font-family: Aptos, sans-serif; font-size: 12pt;">MET yesterday, =
we talked about her portfolio.</div><div class=3D"elementToProof">Ana</div><d=
iv id=3D"appendonsend"></div><hr style=3D"display:inline-block;width:98%" tab=
index=3D"-1"><div id=3D"divRplyFwdMsg" dir=3D"ltr"><font face=3D"Calibri, san=
s-serif" style=3D"font-size:11pt" color=3D"#000000"><b>From:</b> Mentoring Co=
mmittee &lt;mentoring@example.org&gt;<br><b>Sent:</b> Friday, October 9, 2026=
 8:00 AM<br><b>To:</b> Ana Perez &lt;ana.perez@example.com&gt;<br><b>Subject:=
</b> Your October topic</font><div>&nbsp;</div></div><div>Hello Ana,<br>Reply=
 with one word at the start of a line:<br>HELP to reach your liaison</div></b=
ody></html>

--_000_AM0PR07MB1234_--
"""


def test_outlook_reply_with_auto_response_suppress_is_read_like_any_other() -> None:
    parsed = parse_message(OUTLOOK_REPLY.encode())
    assert parsed.kind == "human"
    assert parsed.new_text.startswith("MET yesterday")
    assert [c.name for c in parse_keywords(parsed.new_text, reference=REF).commands] == ["met"]


@pytest.mark.parametrize(
    ("subject", "extra"),
    [("Automatic reply: Your October topic", ""),
     ("RE: Your October topic", "Auto-Submitted: auto-replied\n")],
)
def test_exchange_out_of_office_stays_an_auto_reply(subject: str, extra: str) -> None:
    raw = OUTLOOK_REPLY.replace("Subject: RE: Your October topic", f"{extra}Subject: {subject}")
    assert parse_message(raw.encode()).kind == "auto_reply"


def test_auto_submitted_no_is_human() -> None:
    assert parse_message(_message("MET", Auto_Submitted="no")).kind == "human"


@pytest.mark.parametrize(
    "subject",
    ["Out of Office: Your October topic", "Automatic reply: Re: topic", "Autoreply: hi",
     "Abwesenheitsnotiz: Thema", "Réponse automatique : sujet", "Respuesta automática: tema",
     "I am on vacation", "自動返信: テーマ", "Automatiskt svar: Ämne", "Autosvar: Emne",
     "Automaattinen vastaus: Aihe", "Automatická odpověď: Téma", "Автовідповідь: Тема",
     "Otomatik yanıt: Konu", "자동 회신: 주제"],
)
def test_out_of_office_subjects(subject: str) -> None:
    assert parse_message(_message("Back on Monday.", subject=subject)).kind == "auto_reply"


def _dsn(action: str, status: str) -> bytes:
    msg = MIMEMultipart("report", report_type="delivery-status")
    msg["From"] = "Mail Delivery Subsystem <MAILER-DAEMON@mx.example.com>"
    msg["Subject"] = "Delivery Status Notification"
    raw_head = (
        b"Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n"
        b"Final-Recipient: rfc822; Ana@Example.com\nAction: " + action.encode()
        + b"\nStatus: " + status.encode() + b"\n"
    )
    returned = (
        b"Content-Type: text/rfc822-headers\n\nFrom: mentoring@example.org\n"
        b"To: ana@example.com\nMessage-ID: " + OUR_ID.encode() + b"\nSubject: topic\n"
    )
    head, _, _ = msg.as_bytes().partition(b"\n\n")
    boundary = msg.get_boundary()
    assert boundary
    b = boundary.encode()
    text = b"Content-Type: text/plain\n\nYour message could not be delivered.\n"
    return (head + b"\n\n--" + b + b"\n" + text + b"--" + b + b"\n" + raw_head + b"--" + b
            + b"\n" + returned + b"--" + b + b"--\n")


@pytest.mark.parametrize(
    ("action", "status", "kind", "temporary"),
    [("failed", "5.1.1", "bounce", False), ("delayed", "4.4.7", "bounce", True),
     ("delivered", "2.0.0", "delivery_report", None), ("relayed", "2.0.0", "delivery_report", None),
     ("expanded", "2.0.0", "delivery_report", None)],
)
def test_delivery_status_notifications(
    action: str, status: str, kind: str, temporary: bool | None
) -> None:
    parsed = parse_message(_dsn(action, status))
    assert parsed.kind == kind
    if temporary is None:
        assert parsed.bounce is None
    else:
        assert parsed.bounce is not None
        assert parsed.bounce.temporary is temporary
        assert parsed.bounce.status == status
        assert parsed.bounce.recipients == ("ana@example.com",)
        assert parsed.bounce.original_message_ids == (OUR_ID,)


def test_non_dsn_bounce() -> None:
    raw = (
        b"From: MAILER-DAEMON@mail.example.net\nTo: mentoring@example.org\n"
        b"Subject: failure notice\n\nHi. This is the qmail-send program at example.net.\n"
        b"I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        b"This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        b"<ana@example.net>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
        b"--- Below this line is a copy of the message.\n\nMessage-ID: " + OUR_ID.encode()
        + b"\nSubject: topic\n\nMET ...\n"
    )
    parsed = parse_message(raw)
    assert parsed.kind == "bounce"
    assert parsed.bounce is not None
    assert parsed.bounce.recipients == ("ana@example.net",)
    assert not parsed.bounce.temporary
    assert parsed.bounce.original_message_ids == (OUR_ID,)


def test_arf_complaint() -> None:
    raw = (
        b"From: abuse@isp.example\nSubject: FW: topic\nMIME-Version: 1.0\nContent-Type: "
        b"multipart/report; report-type=feedback-report; boundary=\"x\"\n\n--x\n"
        b"Content-Type: text/plain\n\nThis is an abuse report.\n--x\n"
        b"Content-Type: message/feedback-report\n\nFeedback-Type: abuse\nVersion: 1\n--x\n"
        b"Content-Type: message/rfc822\n\nMessage-ID: <m@example.org>\nSubject: topic\n\nhi\n"
        b"--x--\n"
    )
    parsed = parse_message(raw)
    assert parsed.kind == "complaint" and parsed.new_text == ""


@pytest.mark.parametrize(
    ("results", "trusted", "failed"),
    [("mx.example.org; dmarc=fail (p=reject) header.from=example.com", "mx.example.org", True),
     ("mx.example.org; dmarc=pass header.from=example.com", "mx.example.org", False),
     ("evil.example; dmarc=fail header.from=example.com", "mx.example.org", False),
     ("mx.example.org; dmarc=fail header.from=example.com", None, False)],
)
def test_dmarc_only_from_the_trusted_authserv(
    results: str, trusted: str | None, failed: bool
) -> None:
    raw = _message("MET", Authentication_Results=results)
    assert parse_message(raw, trusted_authserv_id=trusted).dmarc_failed is failed


def test_a_folded_from_with_an_encoded_name_is_read() -> None:
    """Python's generator folds a long non-ASCII From onto a second line; found by the demo."""
    raw = (b"From:\r\n =?utf-8?q?Siobh=C3=A1n_N=C3=AD?= Bhriain"
           b" <sbhriain@cityu-library.example>\r\n"
           b"To: mentoring@lib.example\r\nSubject: Re: Month 3\r\n"
           b"Message-ID: <folded@client.example>\r\n\r\nMET yesterday\r\n")
    parsed = parse_message(raw)
    assert (parsed.from_name, parsed.from_address) == (
        "Siobhán Ní Bhriain", "sbhriain@cityu-library.example")
    assert parsed.kind == "human"


@pytest.mark.parametrize("value", [
    "Alex Mentor 3 <Mentor3@Lib.Example>",
    "O'Brien <o'brien+mf-1@lib.example>",
    "\"Smith, John (Dept)\" <john.smith@lib.example>",
    "\"zoe@lib.example\" <attacker@evil.example>",
    "\"<a@b.example>\"<x@y.example>",
    "Alex<alex@lib.example>",
    "<alex@lib.example>",
    "alex@lib.example",
    "#$%&*+/=?^_`{|}~ <a-b@x-.example>",
])
def test_a_plain_from_reads_as_the_rfc5322_parser_reads_it(value: str) -> None:
    """The common From forms skip the parser; they must come out as the parser has them."""
    assert _SIMPLE_FROM_RE.fullmatch(value)
    msg = message_from_string(f"From: {value}\nSubject: x\n\nbody\n")
    problems: list[str] = []
    assert _sender(msg, problems) == _parsed_sender(value, []) != ("", "")
    assert problems == []
    # and as a To or Cc value, as email.utils.getaddresses reads it
    parsed = [a.lower() for _, a in getaddresses([value, ""]) if "@" in a]
    assert _addresses([value, ""]) == parsed == [_sender(msg, [])[1]]


@pytest.mark.parametrize("value", [
    "=?utf-8?q?zoe=40lib.example?= <a@b.example>",  # an encoded word: the parser decodes
    "Alex  Mentor <a@b.example>",  # the parser folds the doubled space
    "Dr. No <a@b.example>",  # an obsolete phrase
    "a@b.example (Alex)",  # a comment
    "\"a\\\"b\" <a@b.example>",  # an escape
    "Zoë <zoe@lib.example>",
    "a@b.example, c@d.example",
])
def test_other_from_forms_go_to_the_parser(value: str) -> None:
    assert "=?" in value or not _SIMPLE_FROM_RE.fullmatch(value)


@pytest.mark.parametrize("value", [
    "=?utf-8?b?WsO2w6sgw5HDusOxZXogbWVudGVlMw==?= <mentee3@lib.example>",
    "=?UTF-8?Q?Siobh=C3=A1n_N=C3=AD_Bhriain?= <sbhriain@cityu-library.example>",
    "=?utf-8?q?zoe=40lib.example?= <attacker@evil.example>",  # an address-like name
    "=?utf-8?b?WmXDqw?= <a@b.example>",  # bad base64 padding: a defect, so the parser
    "=?utf-8?q?a__b?= <a@b.example>",  # a double space
])
def test_an_encoded_name_reads_as_the_rfc5322_parser_reads_it(value: str) -> None:
    assert _ENCODED_FROM_RE.fullmatch(value)
    msg = message_from_string(f"From: {value}\nSubject: x\n\nbody\n")
    assert _sender(msg, []) == _parsed_sender(value, []) != ("", "")


@pytest.mark.parametrize("value", [
    "Alex <\u212aelvin@lib.example>", "=?utf-8?q?Zo=C3=AB?= <\u212aelvin@lib.example>",
    "\u212aelvin@lib.example",
])
def test_an_address_that_lower_casing_changes_is_never_read_the_fast_way(value: str) -> None:
    msg = message_from_string(f"From: {value}\nSubject: x\n\nbody\n")
    problems: list[str] = []
    assert _sender(msg, problems) == ("", "")
    assert problems and "changes when lower-cased" in problems[0]


ATTRIBUTION = ATTRIBUTIONS["yandex_ru"]
# --- attributions, separators and header blocks in the languages clients ship ------------
# bench/reply_formats.py writes each out as the named client writes it (the corpora have
# none of these), with our email below it: quoted with ">" and, as webmail and phone
# clients often send it, not marked at all. Only the MET above it may count.
@pytest.mark.parametrize("marked", [True, False], ids=["quoted", "unmarked"])
@pytest.mark.parametrize("style", sorted(HISTORIES))
def test_history_in_many_languages_never_counts(style: str, marked: bool) -> None:
    history = HISTORIES[style].format(ours=_quoted(OURS) if marked else OURS)
    raw = _message(f"MET yesterday, we talked about her portfolio.\n\nAna\n\n{history}\n")
    parsed = parse_message(raw)
    assert parsed.new_text == "MET yesterday, we talked about her portfolio.\n\nAna"
    assert _keywords(raw) == ["met"]


@pytest.mark.parametrize(
    "line",
    ["My new address is ana@lib.example:", "Meeting at 14:00, details from ana@lib.example:",
     "Call me at 10:30 or write to ana@lib.example:", "Here is what I sent to ben@lib.example:",
     "Ana Pérez <ana@lib.example>:"],
)
def test_a_line_of_the_reply_that_only_looks_a_little_like_an_attribution_is_kept(
        line: str) -> None:
    body = f"MET yesterday\n{line}\nwe agreed on the next steps.\nGOAL finish the course"
    parsed = parse_message(_message(body))
    assert parsed.new_text == body
    assert _keywords(_message(body)) == ["met", "goal"]


@pytest.mark.parametrize(
    "signature",
    ["Sendt fra min iPhone", "Skickat från min iPhone", "Lähetetty iPhonesta",
     "Odesláno z iPhonu", "Wysłane z iPhone'a", "Отправлено с iPhone", "Надіслано з iPhone",
     "iPhone'umdan gönderildi", "iPhoneから送信", "iPhone에서 보냄", "从我的iPhone发送"],
)
def test_phone_signatures_in_many_languages_end_the_reply(signature: str) -> None:
    """Each phone client's "Sent from my iPhone" (as the client writes it) is not new text,
    and what follows it is history, even unmarked."""
    raw = _message(f"MET yesterday\n\n{signature}\n\n{ATTRIBUTION}\n{OURS}\n")
    assert parse_message(raw).new_text == "MET yesterday"
    assert _keywords(raw) == ["met"]


@pytest.mark.parametrize("line", ["Lähetetty eilen kaikille.", "Odesláno včera večer.",
                                  "Paket gönderildi."])
def test_the_same_verbs_in_a_sentence_are_kept(line: str) -> None:
    raw = _message(f"MET yesterday\n{line}\nGOAL a poster")
    assert parse_message(raw).new_text == f"MET yesterday\n{line}\nGOAL a poster"
