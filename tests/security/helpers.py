"""Shared helpers of the security suite: a program on real servers, replies, events."""

from __future__ import annotations

from datetime import date, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parsedate_to_datetime
from pathlib import Path

from dovecot import IMAP_PASSWORD_ENV, ImapAccount
from programs import Program, imap_toml, make_program
from smtp_server import RecordingSmtpServer

from mailflow.domain.model import Event

START = date(2027, 1, 4)
ROWS = [
    "A,Ann Mentor,ann@lib.example,Zoë Ñúñez,zoe@lib.example,Lia One,l1@lib.example,,,",
    "B,Bob Mentor,bob@lib.example,Ben Mentee,ben@lib.example,Lia One,l1@lib.example,,,",
]


def program_on_servers(folder: Path, smtp: RecordingSmtpServer, imap: ImapAccount,
                       *, rows: list[str] | None = None, extra_imap: str = "") -> Program:
    """A program whose SMTP is `smtp` and IMAP the Dovecot account; intros sent."""
    imap.settings()  # puts the password in the environment
    toml = imap_toml(imap.host, imap.server.imaps_port, imap.username, IMAP_PASSWORD_ENV,
                     imap.ca_file) + extra_imap
    program = make_program(folder, start=START, rows=rows or ROWS, smtp_port=smtp.port,
                           imap=toml)
    program.at(START)
    program.send_due()
    return program


def sent_to(server: RecordingSmtpServer, to: str, kind: str) -> EmailMessage:
    for received in server.messages:
        msg = received.message()
        if to in str(msg["To"]) and msg["X-Mailflow-Kind"] == kind:
            return msg
    raise AssertionError(f"no {kind} to {to} among {len(server.messages)} messages")


def reply(original: EmailMessage, from_header: str, body: str,
          headers: dict[str, str] | None = None) -> bytes:
    """A reply as a mail program writes it, with a From header given verbatim (raw)."""
    msg = EmailMessage()
    msg["To"] = str(original["Reply-To"])
    msg["Subject"] = "Re: " + str(original["Subject"])
    msg["Message-ID"] = make_msgid(domain="client.example")
    msg["In-Reply-To"] = str(original["Message-ID"])
    msg["References"] = str(original["Message-ID"])
    msg["Date"] = format_datetime(parsedate_to_datetime(str(original["Date"]))
                                  + timedelta(hours=3))
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    return b"From: " + from_header.encode("utf-8") + b"\r\n" + bytes(msg)


def events(program: Program) -> list[Event]:
    with program.app().repository(readonly=True) as repo:
        return repo.events()
