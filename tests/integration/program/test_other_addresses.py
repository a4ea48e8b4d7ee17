"""Replies from other addresses (SPEC section 10): quarantined, listed with the person they
most likely come from, accepted as that person's; other addresses in the roster. Through the
real command line, against an in-process aiosmtpd and the test Dovecot."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dovecot import ImapAccount
from programs import ROSTER_HEADER, Program, program_polling
from smtp_server import RecordingSmtpServer

START = date(2027, 1, 4)
ROWS = ["A,Ann Mentor,ann@lib.example,Zoë Ñúñez,zoe@lib.example,Lia One,l1@lib.example,,,",
        "B,Bob Mentor,bob@lib.example,Ben Mentee,ben@lib.example,Lia One,l1@lib.example,,,"]


@pytest.fixture
def server() -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer() as srv:
        yield srv


@pytest.fixture
def program(tmp_path: Path, server: RecordingSmtpServer, imap_account: ImapAccount) -> Program:
    program = program_polling(tmp_path / "p", imap_account, start=START,
                              rows=ROWS, smtp_port=server.port)
    assert cli(program, "send-due", now="2027-01-04T12:00").returncode == 0
    return program


def cli(program: Program, *args: str, now: str = "2027-01-06T12:00",
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailflow", "-c", str(program.config), "--now", now, *args],
        capture_output=True, text=True, check=False, timeout=120)


def intro_to(server: RecordingSmtpServer, address: str) -> EmailMessage:
    return next(r.message() for r in server.messages
                if r.rcpt_tos == [address] and r.message()["X-Mailflow-Kind"] == "intro")


def reply(original: EmailMessage, sender: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = str(original["Reply-To"])
    msg["Subject"] = "Re: " + str(original["Subject"])
    msg["Date"] = format_datetime(original_date(original))
    msg["Message-ID"] = make_msgid(domain="gmail.example")
    msg["In-Reply-To"] = str(original["Message-ID"])
    msg["References"] = str(original["Message-ID"])
    msg.set_content(body)
    return bytes(msg)


def original_date(original: EmailMessage) -> object:
    from datetime import datetime, timedelta

    sent = datetime.fromisoformat("2027-01-06T10:00:00-06:00")
    del original
    return sent - timedelta(minutes=5)


def events(program: Program) -> list[dict[str, object]]:
    result = json.loads(cli(program, "export", "events", "--format", "json").stdout)
    assert isinstance(result, list)
    return result


def test_a_reply_from_another_address_is_listed_with_its_likely_person_and_accepted(
        program: Program, server: RecordingSmtpServer, imap_account: ImapAccount) -> None:
    intro = intro_to(server, "zoe@lib.example")
    gmail = "zoe.nunez.1990@gmail.example"
    imap_account.append([reply(intro, f"Zoë Ñúñez <{gmail}>", "MET yesterday, lovely chat\n")])
    polled = cli(program, "poll")
    assert polled.returncode == 0 and "quarantined" in polled.stdout, polled.stderr
    assert not [e for e in events(program) if e["type"] == "met"]

    listed = cli(program, "quarantine", "list")
    assert listed.returncode == 0, listed.stderr
    message_id = listed.stdout.splitlines()[0].strip()
    assert message_id.startswith("<") and gmail in listed.stdout
    assert "most likely Zoë Ñúñez (zoe@lib.example, pair A)" in listed.stdout
    assert "(America/Chicago)" in listed.stdout

    digest = cli(program, "digest", now="2027-01-11T08:00")
    assert digest.returncode == 0, digest.stderr
    to_committee = [r.message() for r in server.messages
                    if r.rcpt_tos == ["committee@lib.example"]
                    and r.message()["X-Mailflow-Kind"] == "digest"]
    text = to_committee[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert gmail in text and "Most likely Zoë Ñúñez (zoe@lib.example, pair A)" in text

    wrong = cli(program, "quarantine", "accept", message_id, "--as", "nobody@lib.example")
    assert wrong.returncode == 1 and "nobody's roster address" in wrong.stderr
    before = len(server.messages)
    accepted = cli(program, "quarantine", "accept", message_id, "--as", "zoe@lib.example",
                   "--remember")
    assert accepted.returncode == 0, accepted.stderr
    assert "is now one of zoe@lib.example's addresses" in accepted.stdout
    [met] = [e for e in events(program) if e["type"] == "met"]
    assert met["person"] == "zoe@lib.example" and met["pair_id"] == "A"
    assert met["date"] == "2027-01-05"
    acks = [r for r in server.messages[before:] if r.message()["X-Mailflow-Kind"] == "ack"]
    assert [r.rcpt_tos for r in acks] == [["zoe@lib.example"]]
    assert not imap_account.messages("Quarantine")
    assert len(imap_account.messages("Processed")) == 1
    assert "the quarantine is empty" in cli(program, "quarantine", "list").stdout
    again = cli(program, "quarantine", "accept", message_id, "--as", "zoe@lib.example")
    assert again.returncode == 1  # accepted once only

    # remembered: her next reply from the same address counts at once
    imap_account.append([reply(intro, f"Zoë <{gmail}>", "GOAL learn cataloguing\n")])
    assert "quarantined" not in cli(program, "poll", now="2027-01-07T12:00").stdout
    assert [e["person"] for e in events(program) if e["type"] == "goal"] == ["zoe@lib.example"]


def test_other_addresses_in_the_roster_count_as_the_person(
        program: Program, server: RecordingSmtpServer, imap_account: ImapAccount) -> None:
    header = ROSTER_HEADER.strip() + ",mentor_other_emails,mentee_other_emails\n"
    rows = [ROWS[0] + ",ann.home@mail.example; ann@phone.example,",
            ROWS[1] + ",,"]
    (program.folder / "roster.csv").write_text(header + "\n".join(rows) + "\n")
    imported = cli(program, "roster", "import", str(program.folder / "roster.csv"))
    assert imported.returncode == 0 and "1 updated" in imported.stdout, imported.stderr
    intro = intro_to(server, "ann@lib.example")
    imap_account.append([reply(intro, "Ann <ann@phone.example>", "MET today\n")])
    polled = cli(program, "poll")
    assert "quarantined" not in polled.stdout, polled.stdout
    assert [e["person"] for e in events(program) if e["type"] == "met"] == ["ann@lib.example"]

    bad = ROWS[0] + ",not-an-address; zoe@lib.example,"
    (program.folder / "roster.csv").write_text(header + bad + "\n")
    refused = cli(program, "roster", "import", str(program.folder / "roster.csv"))
    assert refused.returncode == 1
    assert "line 2: mentor_other_emails: expected an email address" in refused.stderr
    assert "zoe@lib.example is the address of another person in the pair" in refused.stderr
