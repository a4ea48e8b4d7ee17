"""MET dates (SPEC section 10): a date without a year is the nearest one; a MET dated before
the pair's start or more than 2 days after the reply is recorded on the reply's date, its
words kept, and the ack says so; several MET lines in one reply are one check-in. Through the
real command line against an in-process aiosmtpd and the test Dovecot."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dovecot import ImapAccount
from programs import Program, program_polling
from smtp_server import RecordingSmtpServer

START = date(2026, 11, 2)
ROWS = ["A,Ann Mentor,ann@lib.example,Zoe Mentee,zoe@lib.example,Lia One,l1@lib.example,,,"]


@pytest.fixture
def server() -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer() as srv:
        yield srv


@pytest.fixture
def program(tmp_path: Path, server: RecordingSmtpServer, imap_account: ImapAccount) -> Program:
    program = program_polling(tmp_path / "p", imap_account, start=START,
                              rows=ROWS, smtp_port=server.port)
    with program.config.open("a") as config:
        config.write('\n[keywords]\nmet = ["WE MET"]\n')  # the shipped example's synonym
    assert cli(program, "send-due", now="2026-11-02T12:00").returncode == 0
    return program


def cli(program: Program, *args: str, now: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailflow", "-c", str(program.config), "--now", now, *args],
        capture_output=True, text=True, check=False, timeout=120)


def reply(server: RecordingSmtpServer, sent: str, body: str) -> bytes:
    intro = next(r.message() for r in server.messages if r.rcpt_tos == ["zoe@lib.example"])
    msg = EmailMessage()
    msg["From"] = "Zoe Mentee <zoe@lib.example>"
    msg["To"] = str(intro["Reply-To"])
    msg["Subject"] = "Re: " + str(intro["Subject"])
    msg["Date"] = format_datetime(datetime.fromisoformat(sent))
    msg["Message-ID"] = make_msgid(domain="lib.example")
    msg["In-Reply-To"] = str(intro["Message-ID"])
    msg.set_content(body)
    return bytes(msg)


def poll_and_ack(program: Program, server: RecordingSmtpServer, now: str) -> str:
    before = len(server.messages)
    result = cli(program, "poll", now=now)
    assert result.returncode == 0, result.stderr
    [ack] = [r.message() for r in server.messages[before:]
             if r.message()["X-Mailflow-Kind"] == "ack"]
    return " ".join(ack.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]


def met_events(program: Program, now: str) -> list[dict[str, object]]:
    rows = json.loads(cli(program, "export", "events", "--format", "json", now=now).stdout)
    return [row for row in rows if row["type"] == "met"]


def test_a_met_date_in_the_future_is_recorded_on_the_reply_date_with_its_words_kept(
        program: Program, server: RecordingSmtpServer, imap_account: ImapAccount) -> None:
    imap_account.append([reply(server, "2026-12-15T10:00:00-06:00", "met 12/20 at the cafe\n")])
    ack = poll_and_ack(program, server, "2026-12-15T12:00")
    [met] = met_events(program, "2026-12-15T12:00")
    assert met["date"] == "2026-12-15"  # not 2025-12-20, a year before the program began
    assert "12/20" in str(met["text"]) and "cafe" in str(met["text"])
    assert "the date you wrote, December 20, 2026, is more than two days after your reply" in ack
    status = json.loads(cli(program, "status", "--json", now="2026-12-16T12:00").stdout)
    assert status["pairs"][0]["last_met"] == "2026-12-15"


def test_a_met_dated_before_the_pair_began_is_recorded_on_the_reply_date(
        program: Program, server: RecordingSmtpServer, imap_account: ImapAccount) -> None:
    imap_account.append([reply(server, "2026-11-20T10:00:00-06:00", "MET 2026-10-01\n")])
    ack = poll_and_ack(program, server, "2026-11-20T12:00")
    [met] = met_events(program, "2026-11-20T12:00")
    assert met["date"] == "2026-11-20" and "2026-10-01" in str(met["text"])
    assert "before your mentorship began on November 2, 2026" in ack


def test_several_met_lines_in_one_reply_are_one_check_in(
        program: Program, server: RecordingSmtpServer, imap_account: ImapAccount) -> None:
    imap_account.append([reply(server, "2026-11-20T10:00:00-06:00",
                               "WE MET\nmet yesterday, we talked about conferences\n")])
    ack = poll_and_ack(program, server, "2026-11-20T12:00")
    [met] = met_events(program, "2026-11-20T12:00")
    assert met["date"] == "2026-11-19" and "conferences" in str(met["text"])
    assert ack.count("Meeting on") == 1 and "Meeting on November 19, 2026" in ack
