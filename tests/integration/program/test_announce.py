"""`mailflow announce` (SPEC sections 2 and 7): checked first, recorded under a stable
key, sent once per person even across a kill mid-send or a second run."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from programs import Program, make_program
from smtp_server import RecordingSmtpServer

from mailflow.domain.model import Kind, OutboxStatus
from mailflow.errors import MailflowError, TemplateError
from mailflow.services.announce import Audience, announce, announcement_id

START = date(2027, 1, 4)
NOW = "2027-02-10T12:00:00-06:00"
ROWS = [f"P{i:02d},Mentor {i},mentor{i}@lib.example,Mentee {i},mentee{i}@lib.example,"
        f"Lia {i % 2},l{i % 2}@lib.example,,," for i in range(1, 7)]
NEWS = """Subject: Spring celebration, {{ recipient.first_name }}

Dear {{ recipient.first_name }},

{% if pair %}You and {{ partner.name }} ({{ pair.id }}) are warmly invited{% else %}\
As a liaison you are warmly invited{% endif %} to our **spring celebration**.
"""


@pytest.fixture
def server() -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer() as srv:
        yield srv


@pytest.fixture
def program(tmp_path: Path, server: RecordingSmtpServer) -> Program:
    program = make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=server.port)
    program.clock.set(datetime.fromisoformat(NOW))
    return program


def cli(program: Program, *args: str, now: str = NOW) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailflow", "-c", str(program.config), "--now", now, *args],
        capture_output=True, text=True, check=False, timeout=120)


def _write(program: Program, text: str = NEWS, name: str = "news.md") -> Path:
    path = program.folder / name
    path.write_text(text)
    return path


def _copies(server: RecordingSmtpServer) -> Counter[str]:
    return Counter(m.rcpt_tos[0] for m in server.messages
                   if m.message()["X-Mailflow-Kind"] == "announcement")


def test_audiences_and_the_variables_of_each_recipient(
        program: Program, server: RecordingSmtpServer) -> None:
    news = _write(program)
    done = cli(program, "announce", str(news), "--to", "all")
    assert done.returncode == 0, done.stderr
    copies = _copies(server)
    everyone = {f"mentor{i}@lib.example" for i in range(1, 7)} | {
        f"mentee{i}@lib.example" for i in range(1, 7)} | {"l0@lib.example", "l1@lib.example"}
    assert set(copies) == everyone and set(copies.values()) == {1}
    by_to = {m.rcpt_tos[0]: m.message() for m in server.messages}
    mentee = by_to["mentee3@lib.example"]
    assert mentee["Subject"] == "Spring celebration, Mentee"
    assert mentee["X-Mailflow-Pair"] == "P03"
    assert mentee["Auto-Submitted"] == "auto-generated"
    body = mentee.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    assert "You and Mentor 3 (P03) are warmly invited" in body
    liaison = by_to["l1@lib.example"]
    assert liaison["X-Mailflow-Pair"] is None
    assert "As a liaison you are warmly invited" in \
        liaison.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    assert "14 recipient(s), 14 recorded now, 0 recorded by an earlier run" in done.stdout

    other = _write(program, NEWS.replace("spring", "summer"), "summer.md")
    server.messages.clear()
    assert cli(program, "announce", str(other), "--to", "mentees").returncode == 0
    assert set(_copies(server)) == {f"mentee{i}@lib.example" for i in range(1, 7)}
    server.messages.clear()
    assert cli(program, "announce", str(other), "--to", "P02,P05").returncode == 0
    assert set(_copies(server)) == {"mentor2@lib.example", "mentee2@lib.example",
                                    "mentor5@lib.example", "mentee5@lib.example"}
    server.messages.clear()
    assert cli(program, "announce", str(other), "--to", "liaisons").returncode == 0
    assert set(_copies(server)) == {"l0@lib.example", "l1@lib.example"}


def test_a_second_run_sends_nobody_a_second_copy(
        program: Program, server: RecordingSmtpServer) -> None:
    news = _write(program)
    assert cli(program, "announce", str(news), "--to", "mentors").returncode == 0
    again = cli(program, "announce", str(news), "--to", "mentors")
    assert again.returncode == 0, again.stderr
    assert "6 recipient(s), 0 recorded now, 6 recorded by an earlier run" in again.stdout
    assert "0 sent" in again.stdout
    assert set(_copies(server).values()) == {1} and len(_copies(server)) == 6
    outbox = json.loads(cli(program, "export", "outbox", "--format", "json").stdout)
    mine = [r for r in outbox if r["kind"] == "announcement"]
    aid = announcement_id(NEWS, Audience.parse("mentors"))
    assert sorted(r["key"] for r in mine) == sorted(
        f"P{i:02d}/announcement/{aid}/mentor{i}@lib.example" for i in range(1, 7))
    assert {r["status"] for r in mine} == {"sent"}


def test_one_recipient_that_cannot_be_rendered_stops_everything(
        program: Program, server: RecordingSmtpServer) -> None:
    # pair.id exists for participants, not for liaisons (pair is None): the liaisons'
    # copies fail, so nobody gets one, and the file and line are named
    broken = _write(program, "Subject: News\n\nHello\n\nYour pair: {{ pair.id }}\n", "bad.md")
    failed = cli(program, "announce", str(broken), "--to", "all")
    assert failed.returncode == 1
    assert "the announcement was not sent to anyone" in failed.stderr
    assert "bad.md:5" in failed.stderr
    assert server.messages == []
    outbox = json.loads(cli(program, "export", "outbox", "--format", "json").stdout)
    assert [r for r in outbox if r["kind"] == "announcement"] == []

    for text, where in (("No subject line\n\nbody\n", "bad.md:1"),
                        ("Subject: x\n\n{{ nobody.name }}\n", "bad.md:3")):
        broken.write_text(text)
        failed = cli(program, "announce", str(broken), "--to", "mentors")
        assert failed.returncode == 1 and where in failed.stderr, failed.stderr
    assert server.messages == []


def test_dry_run_renders_everyone_and_changes_nothing(
        program: Program, server: RecordingSmtpServer) -> None:
    news = _write(program)
    dry = cli(program, "announce", str(news), "--to", "P01", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "rendered for 2 recipient(s)" in dry.stdout
    assert "mentor1@lib.example" in dry.stdout and "mentee1@lib.example" in dry.stdout
    assert server.messages == []
    outbox = json.loads(cli(program, "export", "outbox", "--format", "json").stdout)
    assert [r for r in outbox if r["kind"] == "announcement"] == []


def test_bad_audiences_are_refused(program: Program, server: RecordingSmtpServer) -> None:
    news = _write(program)
    for audience, said in (("all,P01", "use all, mentors"), ("P99", "no pair 'P99'"),
                           ("", "use all, mentors")):
        refused = cli(program, "announce", str(news), "--to", audience)
        assert refused.returncode == 1 and said in refused.stderr, refused.stderr
    assert cli(program, "pair", "end", "P04").returncode == 0
    refused = cli(program, "announce", str(news), "--to", "P04")
    assert refused.returncode == 1 and "pair 'P04' has ended" in refused.stderr
    assert server.messages == []
    # an ended pair's people are not in "all" either
    assert cli(program, "announce", str(news), "--to", "all").returncode == 0
    assert "mentor4@lib.example" not in _copies(server)


def test_at_schedules_it_for_the_send_pass(program: Program, server: RecordingSmtpServer) -> None:
    news = _write(program)
    later = "2027-02-12T08:00"  # no offset: the program's time zone (America/Chicago)
    scheduled = cli(program, "announce", str(news), "--to", "mentees", "--at", later)
    assert scheduled.returncode == 0, scheduled.stderr
    assert "scheduled: the send pass sends it from 2027-02-12T08:00:00-06:00" in scheduled.stdout
    assert _copies(server) == Counter()
    assert cli(program, "send-due", now="2027-02-11T12:00:00-06:00").returncode == 0
    assert _copies(server) == Counter()
    assert cli(program, "send-due", now="2027-02-12T08:05:00-06:00").returncode == 0
    assert set(_copies(server)) == {f"mentee{i}@lib.example" for i in range(1, 7)}
    assert set(_copies(server).values()) == {1}


def test_the_web_console_calls_the_same_function(
        program: Program, server: RecordingSmtpServer) -> None:
    app = program.app()
    with pytest.raises(TemplateError):
        asyncio.run(announce(app, "Subject: x\n\n{{ oops }}\n", "all"))
    with pytest.raises(MailflowError):
        asyncio.run(announce(app, NEWS, "P77"))
    report = asyncio.run(announce(app, NEWS, "P01", name="web.md"))
    assert report.recorded == 2 and sorted(report.sent.sent) == sorted(
        e.key for e in report.entries)
    again = asyncio.run(announce(app, NEWS, "P01"))
    assert again.recorded == 0 and again.already == 2 and again.sent.sent == []
    with app.repository(readonly=True) as repo:
        mine = [e for e in repo.outbox() if e.kind == Kind.ANNOUNCEMENT]
    assert {e.status for e in mine} == {OutboxStatus.SENT}
    assert len(server.messages) == 2


def test_a_kill_mid_send_then_a_second_run_sends_nobody_twice(
        program: Program, server: RecordingSmtpServer) -> None:
    """SIGKILL of `mailflow announce` while the server holds one email without an
    answer (so it was never accepted), after others were accepted: the second run
    sends the rest, nobody gets two copies, and every entry ends up sent."""
    text = program.config.read_text().replace("timeout_seconds = 5",
                                              "timeout_seconds = 30\nmax_connections = 1")
    program.config.write_text(text)
    news = _write(program)
    server.delay = 0.05  # slow enough to act between two emails
    command = [sys.executable, "-m", "mailflow", "-c", str(program.config), "--now", NOW,
               "announce", str(news), "--to", "all"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        try:
            deadline = time.monotonic() + 60
            while len(server.messages) < 4:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.005)
            server.stall_next(30)  # the next DATA gets no answer
            while not server.stalled:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.005)
        finally:
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    first = len(server.messages)
    assert 4 <= first < 14
    server.delay = 0.0
    server.clear_faults()
    again = cli(program, "announce", str(news), "--to", "all")
    assert again.returncode == 0, again.stderr
    assert "0 recorded now, 14 recorded by an earlier run" in again.stdout
    copies = _copies(server)
    assert len(copies) == 14 and set(copies.values()) == {1}, copies
    assert len({m.message()["Message-ID"] for m in server.messages}) == 14
    stalled = server.stalled[0].message()["Message-ID"]
    assert stalled in {m.message()["Message-ID"] for m in server.messages[first:]}
    outbox = json.loads(cli(program, "export", "outbox", "--format", "json").stdout)
    assert {r["status"] for r in outbox if r["kind"] == "announcement"} == {"sent"}


def test_an_address_that_bounced_is_held_like_any_other_email(
        program: Program, server: RecordingSmtpServer) -> None:
    with program.app().repository() as repo:
        repo.set_meta("bouncing", **{"mentee1@lib.example": "2027-02-01T09:00:00-06:00"})
    news = _write(program)
    done = cli(program, "announce", str(news), "--to", "P01")
    assert done.returncode == 0, done.stderr
    assert "announcement emails: 1 sent" in done.stdout and "dry run" not in done.stdout
    assert "skipped P01/announcement/" in done.stdout and "bounced on 2027-02-01" in done.stdout
    assert set(_copies(server)) == {"mentor1@lib.example"}
