"""The program year's new moments through the command line, into a real SMTP server:
first contact and `no_contact`, quieter digests, the midpoint check-in, the feedback
reminder, and a program that switches to mailflow mid-term (SPEC 2, 6, 7)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, time
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from programs import CONFIG, NO_IMAP, ROSTER_HEADER, Program, make_program
from smtp_server import RecordingSmtpServer

from mailflow.app import scaffold
from mailflow.clock import FixedClock
from mailflow.domain.model import Event, EventType

CHICAGO = ZoneInfo("America/Chicago")
START = date(2027, 1, 4)  # a Monday
ROWS = [
    # A never writes; B's mentee writes on day 16
    "A,Ann Mentor,ann@lib.example,Zoë Ñúñez,zoe@lib.example,Lia One,l1@lib.example,,,",
    "B,Bob Mentor,bob@lib.example,Ben Mentee,ben@lib.example,Lia One,l1@lib.example,,,",
]


@pytest.fixture
def server() -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer() as srv:
        yield srv


def at(day: str, hour: int = 10) -> str:
    """`2027-01-04` -> that day at `hour` in Chicago, with its offset."""
    return datetime.combine(date.fromisoformat(day), time(hour), CHICAGO).isoformat()


def cli(program: Program, now: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    if len(now) == 10:
        now = at(now)
    result = subprocess.run(
        [sys.executable, "-m", "mailflow", "-c", str(program.config), "--now", now,
         *map(str, args)], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def delivered(server: RecordingSmtpServer, since: int) -> list[tuple[str, str, str]]:
    """(kind, pair, recipient address) of each message delivered after the first `since`."""
    out = []
    for received in server.messages[since:]:
        msg: EmailMessage = received.message()
        to = str(msg["To"]).rsplit("<", 1)[-1].rstrip(">")
        out.append((str(msg["X-Mailflow-Kind"]), str(msg.get("X-Mailflow-Pair", "-")), to))
    return sorted(out)


def add_event(program: Program, name: str, event: Event) -> None:
    with program.app().repository() as repo:
        repo.add_event(name, event)


def export(program: Program, what: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(
        cli(program, "2027-01-04", "export", what, "--format", "json").stdout)
    return rows


def test_first_contact_digests_midpoint_and_feedback_reminder_through_the_cli(
    tmp_path: Path, server: RecordingSmtpServer,
) -> None:
    program = make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=server.port)
    cli(program, "2027-01-04", "send-due")
    assert len(server.messages) == 5  # four intros and one welcome

    # day 13: nothing; day 14: both mentors reminded to make first contact
    seen = len(server.messages)
    cli(program, "2027-01-17", "send-due")
    assert delivered(server, seen) == []
    cli(program, "2027-01-18", "send-due")
    assert delivered(server, seen) == [("first_contact", "A", "ann@lib.example"),
                                       ("first_contact", "B", "bob@lib.example")]
    [reminder] = [r.message() for r in server.messages[seen:] if "ann@" in str(r.message()["To"])]
    assert "CONTACTED" in reminder.get_body(("plain",)).get_content()

    # Ben writes on day 16; on day 20 nothing, on day 21 the liaison hears about A only
    add_event(program, "ben-note", Event(datetime(2027, 1, 20, 12, tzinfo=CHICAGO), "B",
                                         "ben@lib.example", "mentee", EventType.NOTE,
                                         None, "Hello!", "<ben-1@lib.example>"))
    seen = len(server.messages)
    cli(program, "2027-01-24", "send-due")
    assert delivered(server, seen) == []
    cli(program, "2027-01-25", "send-due")
    assert delivered(server, seen) == [("escalation", "A", "l1@lib.example")]
    [escalation] = export(program, "escalations")
    assert (escalation["pair_id"], escalation["reason"]) == ("A", "no_contact")

    # digests (digest_when = "attention"): none at 08:00 on day 21 (the escalation came
    # at 09:00), then while it is open, once more for its resolution, then not until
    # something happens
    mondays = ["2027-01-25", "2027-02-01", "2027-02-08", "2027-02-15"]
    sent_digests = []
    for monday in mondays:
        if monday == "2027-02-08":
            resolve(program, escalation["id"], datetime(2027, 2, 2, 12, tzinfo=CHICAGO))
        seen = len(server.messages)
        cli(program, monday, "digest")
        sent_digests.append(delivered(server, seen))
    both = [("digest", "-", "committee@lib.example"), ("digest", "-", "l1@lib.example")]
    assert sent_digests == [[], both, both, []], [
        (row["key"], row["status"], row.get("error")) for row in export(program, "outbox")
        if row["kind"] in ("digest", "alert")]
    skipped = [row for row in export(program, "outbox")
               if row["kind"] == "digest" and row["status"] == "skipped"]
    assert {row["due_at"][:10] for row in skipped} == {"2027-01-25", "2027-02-15"}
    # "always" sends every week again
    text = program.config.read_text().replace("[smtp]", '[schedule]\ndigest_when = "always"\n\n'
                                                       "[smtp]")
    program.config.write_text(text)
    seen = len(server.messages)
    cli(program, "2027-02-22", "digest")
    assert delivered(server, seen) == both

    # the midpoint check-in: 7 days into month 5 (of 9), to all four
    seen = len(server.messages)
    cli(program, "2027-05-10", "send-due")
    assert not [m for m in delivered(server, seen) if m[0] == "midpoint"]
    cli(program, "2027-05-11", "send-due")
    assert [m for m in delivered(server, seen) if m[0] == "midpoint"] == [
        ("midpoint", "A", "ann@lib.example"), ("midpoint", "A", "zoe@lib.example"),
        ("midpoint", "B", "ben@lib.example"), ("midpoint", "B", "bob@lib.example")]

    # the feedback email at the term's end; a reminder 14 days later to those who did not
    # answer (Ann did)
    cli(program, "2027-10-04", "send-due")
    add_event(program, "ann-feedback", Event(datetime(2027, 10, 6, 12, tzinfo=CHICAGO), "A",
                                             "ann@lib.example", "mentor", EventType.FEEDBACK,
                                             None, "Worth it.", "<ann-9@lib.example>"))
    seen = len(server.messages)
    cli(program, "2027-10-17", "send-due")
    assert delivered(server, seen) == []
    cli(program, "2027-10-18", "send-due")
    assert delivered(server, seen) == [("feedback", "A", "zoe@lib.example"),
                                       ("feedback", "B", "ben@lib.example"),
                                       ("feedback", "B", "bob@lib.example")]
    subjects = {str(r.message()["Subject"]) for r in server.messages[seen:]}
    assert subjects == {"A reminder: your feedback on Test Mentoring Program"}


def resolve(program: Program, escalation_id: str, when: datetime) -> None:
    from dataclasses import replace

    with program.app().repository() as repo:
        esc = repo.escalation(escalation_id)
        assert esc is not None
        repo.put_escalation(replace(esc, resolved_at=when))


def test_a_program_that_switches_to_mailflow_in_month_4_joins_where_it_is(
    tmp_path: Path, server: RecordingSmtpServer,
) -> None:
    # the committee ran its program by hand since September and switches in December
    folder = tmp_path / "p"
    scaffold(folder)
    (folder / "config.toml").write_text(CONFIG.format(
        start="2026-09-07", months=9, timezone="America/Chicago", smtp_port=server.port,
        imap=NO_IMAP))
    program = Program(folder, FixedClock(datetime(2026, 9, 7, tzinfo=CHICAGO)), CHICAGO)
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER_HEADER + ROWS[0] + "\n")
    now = "2026-12-07"
    check = subprocess.run(
        [sys.executable, "-m", "mailflow", "-c", str(program.config), "--now", at(now), "check",
         "--roster", str(roster)], capture_output=True, text=True, check=False, timeout=120)
    assert "A joins mid-term, in month 4 of 9" in check.stdout, check.stdout + check.stderr
    imported = cli(program, now, "roster", "import", roster)
    assert "A joins mid-term, in month 4" in imported.stdout

    cli(program, now, "send-due")
    got = delivered(server, 0)
    assert got == [("intro", "A", "ann@lib.example"), ("intro", "A", "zoe@lib.example"),
                   ("liaison_welcome", "-", "l1@lib.example")]
    intros = [r.message() for r in server.messages if r.message()["X-Mailflow-Kind"] == "intro"]
    for intro in intros:
        assert "(month 4 of 9)" in str(intro["Subject"])
        body = intro.get_body(("plain",)).get_content()
        assert "now sends its emails about your mentorship from this address" in body
        assert "month 4 of 9" in body
    # no earlier topic, no quiet escalation, and no skipped backlog either
    outbox = export(program, "outbox")
    assert {row["kind"] for row in outbox} == {"intro", "liaison_welcome"}
    assert {row["status"] for row in outbox} == {"sent"}
    # what comes next: month 5's topic on 7 January and the midpoint check-in a week later;
    # if the pair stays silent, a nudge 42 days after the intro and the liaison at 56
    plan = json.loads(cli(program, now, "plan", "--days", "60", "--json").stdout)
    upcoming = sorted((row["kind"], row["due_at"][:10]) for row in plan
                      if row["kind"] not in ("digest",))
    assert upcoming == [("escalation", "2027-02-01"), ("midpoint", "2027-01-14"),
                        ("midpoint", "2027-01-14"), ("nudge", "2027-01-18"),
                        ("nudge", "2027-01-18"), ("topic", "2027-01-07"),
                        ("topic", "2027-01-07")]
