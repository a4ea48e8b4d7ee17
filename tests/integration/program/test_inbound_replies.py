"""Replies from real mail programs, through Dovecot, into check-ins and escalations."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dovecot import ImapAccount
from programs import Program, program_polling
from smtp_server import RecordingSmtpServer

from mailflow.domain.model import EventType, PairState

START = date(2027, 1, 4)
ROWS = [
    "A,Ann Mentor,ann@lib.example,Zoë Ñúñez,zoe@lib.example,Lia One,l1@lib.example,,,",
    "B,Bob Mentor,bob@lib.example,Ben Mentee,ben@lib.example,Lia One,l1@lib.example,,,",
]


@pytest.fixture
def server() -> RecordingSmtpServer:
    with RecordingSmtpServer() as srv:
        yield srv


@pytest.fixture
def program(tmp_path: Path, server: RecordingSmtpServer, imap_account: ImapAccount) -> Program:
    program = program_polling(tmp_path / "p", imap_account, start=START,
                              rows=ROWS, smtp_port=server.port)
    program.at(START)
    program.send_due()
    return program


def _sent(server: RecordingSmtpServer, to: str, kind: str) -> EmailMessage:
    for received in server.messages:
        msg = received.message()
        if to in str(msg["To"]) and msg["X-Mailflow-Kind"] == kind:
            return msg
    raise AssertionError(f"no {kind} to {to} among {len(server.messages)} messages")


def _quote(original: EmailMessage) -> str:
    text = original.get_body(("plain",)).get_content()
    return "\n".join("> " + line for line in text.splitlines())


def reply_to(original: EmailMessage, sender: str, body: str, *, name: str = "",
             html: str | None = None, headers: dict[str, str] | None = None) -> bytes:
    """A reply as a mail program writes it: threaded, to the Reply-To, quoting the original."""
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>" if name else sender
    msg["To"] = str(original["Reply-To"])
    msg["Subject"] = "Re: " + str(original["Subject"])
    msg["Message-ID"] = make_msgid(domain="client.example")
    msg["In-Reply-To"] = str(original["Message-ID"])
    msg["References"] = str(original["Message-ID"])
    msg["Date"] = format_datetime(original_date(original) + timedelta(hours=3))
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return bytes(msg)


def original_date(msg: EmailMessage):  # type: ignore[no-untyped-def]
    from email.utils import parsedate_to_datetime

    return parsedate_to_datetime(str(msg["Date"]))


def _events(program: Program) -> list[tuple[str, str, EventType, str]]:
    with program.app().repository(readonly=True) as repo:
        return [(e.pair_id, e.person, e.type, e.text) for e in repo.events()]


def test_keywords_in_replies_become_events_escalations_and_acks(
    program: Program, server: RecordingSmtpServer, imap_account: ImapAccount
) -> None:
    intro_zoe = _sent(server, "zoe@lib.example", "intro")
    intro_bob = _sent(server, "bob@lib.example", "intro")
    gmail_style = (
        "MET yesterday - we talked about the first-year review\n\nGOAL present a poster at "
        "the state conference\n\nOn Mon, Jan 4, 2027 at 9:00 AM Mentoring Committee "
        "<mentoring@lib.example> wrote:\n" + _quote(intro_zoe)
    )
    outlook_style = (
        "HELP we cannot find a time to meet\n\n"
        "________________________________\nFrom: Mentoring Committee <mentoring@lib.example>\n"
        "Sent: Monday, January 4, 2027 9:00 AM\nTo: Bob Mentor <bob@lib.example>\n"
        "Subject: " + str(intro_bob["Subject"]) + "\n\n"
        + intro_bob.get_body(("plain",)).get_content()
    )
    imap_account.append([
        reply_to(intro_zoe, "zoe@lib.example", gmail_style, name="Zoë Ñúñez"),
        reply_to(intro_bob, "bob@lib.example", outlook_style),
        # a reply that only quotes our email (which lists every keyword): just a note
        reply_to(intro_bob, "bob@lib.example", "Thanks, looking forward to it!\n\n"
                 + _quote(intro_bob)),
    ])
    report, sent = program.poll()
    assert report.connection_error == "" and report.outcomes["reply"] == 3

    events = _events(program)
    # "yesterday" was the day before the pair began (SPEC 10): recorded on the reply's date,
    # the written words kept
    assert ("A", "zoe@lib.example", EventType.MET,
            "MET yesterday - we talked about the first-year review") in events
    assert any(t == EventType.GOAL and "poster" in text for _, _, t, text in events)
    assert any(t == EventType.HELP and "find a time" in text for _, _, t, text in events)
    notes = [e for e in events if e[2] == EventType.NOTE]
    assert len(notes) == 1 and notes[0][1] == "bob@lib.example"
    assert not any(t in (EventType.END_REQUEST, EventType.PAUSE) for _, _, t, _ in events)

    with program.app().repository(readonly=True) as repo:
        met = next(e for e in repo.events() if e.type == EventType.MET)
        escalations = repo.escalations()
    assert met.date == START  # the reply's Date: "yesterday" was before the pair's start
    assert [(e.pair_id, e.reason, e.resolved_at) for e in escalations] == [("B", "help", None)]

    escalation = _sent(server, "l1@lib.example", "escalation")
    assert "find a time" in escalation.get_body(("plain",)).get_content()
    acks = [r.message() for r in server.messages if r.message()["X-Mailflow-Kind"] == "ack"]
    # one ack per sender per hour: zoe one, bob one (his second reply was within the hour)
    assert sorted(str(m["To"]).split("<")[1].rstrip(">") for m in acks) == [
        "bob@lib.example", "zoe@lib.example"]
    assert len(sent.sent) == 3  # two acks and the escalation, at once

    # everything handled was moved, nothing deleted; a second poll finds nothing new
    assert imap_account.messages("INBOX") == {}
    assert len(imap_account.messages("Processed")) == 3
    again, _ = program.poll()
    assert again.handled == 0

    # the liaison replies RESOLVED to the escalation email: it closes
    program.at(START, hour=15)
    imap_account.append([reply_to(escalation, "l1@lib.example", "RESOLVED spoke to Bob\n")])
    program.poll()
    with program.app().repository(readonly=True) as repo:
        assert [e.resolved_at is not None for e in repo.escalations()] == [True]


def test_unknown_spoofed_auto_reply_bounce_and_duplicate(
    program: Program, server: RecordingSmtpServer, imap_account: ImapAccount
) -> None:
    intro_zoe = _sent(server, "zoe@lib.example", "intro")
    welcome = _sent(server, "l1@lib.example", "liaison_welcome")
    stranger = reply_to(intro_zoe, "stranger@elsewhere.example", "HELP let me in")
    spoof = reply_to(intro_zoe, "ben@lib.example", "END this match")  # B's mentee, A's thread
    vacation = reply_to(intro_zoe, "zoe@lib.example", "I am away until Monday. MET",
                        headers={"Auto-Submitted": "auto-replied"})
    dsn = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.lib.example>\r\n"
        "To: mentoring@lib.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='mx.lib.example')}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\n"
        "This is the mail system. Your message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.lib.example\r\n\r\n"
        "Final-Recipient: rfc822; l1@lib.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {welcome['Message-ID']}\r\nTo: l1@lib.example\r\n"
        "--B--\r\n"
    ).encode()
    reply = reply_to(intro_zoe, "zoe@lib.example", "NOT MET - snowed in")
    imap_account.append([stranger, spoof, vacation, dsn, reply, reply])  # reply twice

    report, _ = program.poll()
    assert report.outcomes == {"unknown_sender": 2, "auto_reply": 1, "bounce": 1, "reply": 1,
                               "duplicate": 1}
    events = _events(program)
    kinds = sorted(str(t) for _, _, t, _ in events)
    # the liaison's welcome bounced: a bounce on each of the liaison's two pairs
    assert kinds == ["auto_reply", "bounce", "bounce", "not_met", "quarantined", "quarantined"]
    assert not any(t == EventType.END_REQUEST for _, _, t, _ in events)
    with program.app().repository(readonly=True) as repo:
        assert repo.pair("A").state == PairState.ACTIVE  # the spoofed END did nothing
        assert repo.pair("B").state == PairState.ACTIVE
    assert len(imap_account.messages("Quarantine")) == 2
    assert len(imap_account.messages("Processed")) == 4
    assert imap_account.messages("INBOX") == {}
    acks = [r.message() for r in server.messages if r.message()["X-Mailflow-Kind"] == "ack"]
    assert [str(m["To"]) for m in acks] == ["Zoë Ñúñez <zoe@lib.example>"]  # not the robot


def _dsn_for(original: EmailMessage, recipient: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.lib.example>\r\n"
        "To: mentoring@lib.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='mx.lib.example')}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.lib.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original['Message-ID']}\r\nTo: {recipient}\r\n"
        "--B--\r\n"
    ).encode()


def test_a_hard_bounce_escalates_and_holds_mail_until_the_liaison_resolves_it(
    program: Program, server: RecordingSmtpServer, imap_account: ImapAccount
) -> None:
    intro_zoe = _sent(server, "zoe@lib.example", "intro")
    imap_account.append([_dsn_for(intro_zoe, "zoe@lib.example")])
    report, _ = program.poll()
    assert report.outcomes == {"bounce": 1}
    escalation = _sent(server, "l1@lib.example", "escalation")
    assert "zoe@lib.example" in escalation.get_body(("plain",)).get_content()

    program.at(date(2027, 2, 4))  # month 2's topic falls due
    report = program.send_due()
    held = [e for e in report.skipped if e.person == "zoe@lib.example"]
    assert [e.kind for e in held] == ["topic"] and "bounced" in held[0].last_error
    assert [e for e in report.sent if "zoe@" in e] == []
    assert any("ann@" in key for key in report.sent)  # her mentor still gets his

    imap_account.append([reply_to(escalation, "l1@lib.example", "RESOLVED new address on file")])
    program.poll()
    program.at(date(2027, 3, 4))
    assert any("zoe@" in key for key in program.send_due().sent)


@pytest.mark.parametrize("mode", ["here", "worker"])
def test_a_long_poll_reads_and_acks_ahead_with_the_same_outcome(
    tmp_path: Path, server: RecordingSmtpServer, imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, mode: str,
) -> None:
    """A poll of many replies parses the next chunk and composes the acks in worker
    processes (here: every poll is long, in chunks of 2); the outcome is the same."""
    from mailflow.services import workers

    if mode == "worker":
        monkeypatch.setattr(workers, "MIN_FOR_WORKER", 1)
    caplog.set_level("INFO", logger="mailflow.workers")
    rows = [f"P{i},Men Tor{i},mentor{i}@lib.example,Men Tee{i},mentee{i}@lib.example,"
            f"Lia Son,liaison@lib.example,,," for i in range(7)]
    program = program_polling(tmp_path / "p", imap_account, start=START,
                              rows=rows, smtp_port=server.port, extra_imap="batch_size = 2\n")
    program.at(START)
    program.send_due()
    intros = {i: _sent(server, f"mentee{i}@lib.example", "intro") for i in range(7)}
    imap_account.append([
        reply_to(intros[i], f"mentee{i}@lib.example",
                 f"MET on Monday, we talked about goal {i}\n\n" + _quote(intros[i]))
        for i in range(7)
    ])
    before = len(server.messages)
    report, sent = program.poll()
    assert report.connection_error == "" and sent.connection_error == ""
    assert report.outcomes["reply"] == 7
    for what in ("reading ahead", "composing ahead"):
        assert (what in caplog.text) == (mode == "worker"), what
    assert "worker stopped" not in caplog.text
    met = sorted((p, who, text.lstrip("- ")) for p, who, t, text in _events(program)
                 if t == EventType.MET)
    assert met == [(f"P{i}", f"mentee{i}@lib.example", f"we talked about goal {i}")
                   for i in range(7)]
    acks = [r.message() for r in server.messages[before:]]
    assert sorted(str(m["To"]) for m in acks) == sorted(
        f"Men Tee{i} <mentee{i}@lib.example>" for i in range(7))
    assert {str(m["X-Mailflow-Kind"]) for m in acks} == {"ack"}
    assert len(sent.sent) == 7
    assert len(imap_account.messages("Processed")) == 7
