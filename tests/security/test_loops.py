"""Loops: two auto-responders answering mailflow's mail through the real SMTP server and
Dovecot for six simulated hours. One is a naive ticket system with no auto-reply headers
that answers every email it gets, quoting it; the other a vacation responder. mailflow sends
at most one ack per sender in any rolling hour, never answers the vacation responder, and
opens no escalation."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from itertools import pairwise
from pathlib import Path

from dovecot import ImapAccount
from helpers import START, program_on_servers
from smtp_server import RecordingSmtpServer

from mailflow.domain.model import EventType

TICKETS = "bob@lib.example"  # pair B's mentor: a ticket system answering everything
VACATION = "ben@lib.example"  # pair B's mentee: an out-of-office responder


def _robot_answer(original: EmailMessage, sender: str, n: int, now: datetime) -> bytes:
    body = original.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = str(original["Reply-To"] or original["From"])
    msg["Subject"] = f"[Ticket #{n}] Re: {original['Subject']}"
    msg["Message-ID"] = make_msgid(domain="robot.example")
    msg["In-Reply-To"] = str(original["Message-ID"])
    msg["Date"] = format_datetime(now)
    if sender == VACATION:
        msg["Auto-Submitted"] = "auto-replied"
        msg.set_content("I am away until next month and will read your message then.\n")
    else:  # answers like a helpdesk: a canned line, then the whole message it got
        msg.set_content(f"Thank you for contacting us. Ticket #{n} has been opened.\n\n"
                        f"-----Original Message-----\nFrom: {original['From']}\n"
                        f"Subject: {original['Subject']}\n\n{text}")
    return bytes(msg)


def test_auto_responders_get_at_most_one_ack_an_hour_and_no_escalation(
        tmp_path: Path, smtp_server: RecordingSmtpServer, imap_account: ImapAccount) -> None:
    program = program_on_servers(tmp_path / "p", smtp_server, imap_account)
    answered = 0
    tickets = 0
    moment = datetime.combine(START, time(12), tzinfo=program.zone)
    end = moment + timedelta(hours=6)
    while moment < end:
        fresh = smtp_server.messages[answered:]
        answered = len(smtp_server.messages)
        answers = []
        for received in fresh:
            for robot in (TICKETS, VACATION):
                if robot in received.rcpt_tos:
                    tickets += 1
                    answers.append(_robot_answer(received.message(), robot, tickets, moment))
        if answers:
            imap_account.append(answers)
        moment += timedelta(minutes=10)
        program.clock.set(moment)
        report, _ = program.poll()
        assert report.connection_error == ""
        program.send_due()

    acks: dict[str, list[datetime]] = {}
    for received in smtp_server.messages:
        msg = received.message()
        if msg["X-Mailflow-Kind"] == "ack":
            acks.setdefault(received.rcpt_tos[0], []).append(msg["Date"].datetime)
    ticket_acks = sorted(acks.get(TICKETS, []))
    assert 1 <= len(ticket_acks) <= 7, ticket_acks  # six hours: at most one an hour
    assert all(b - a >= timedelta(hours=1) for a, b in pairwise(ticket_acks))
    assert VACATION not in acks
    assert tickets > len(ticket_acks)  # the robot did keep answering
    with program.app().repository(readonly=True) as repo:
        assert repo.escalations() == []
        kinds = {e.type for e in repo.events()}
    assert not kinds & {EventType.HELP, EventType.END_REQUEST, EventType.PAUSE}
    assert EventType.AUTO_REPLY in kinds
