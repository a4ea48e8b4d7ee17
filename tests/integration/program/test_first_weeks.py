"""The first weeks of a real program (issue 16): through the real command line, against
an in-process aiosmtpd and (for the sign-in and service tests) the test Dovecot."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from programs import Program, make_program
from smtp_server import RecordingSmtpServer

START = date(2027, 1, 4)
NOW = "2027-01-04T12:00:00-06:00"
ROWS = ["A,Ann Mentor,ann@lib.example,Zoë Ñúñez,zoe@lib.example,Lia One,l1@lib.example,,,"]


@pytest.fixture
def server() -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer() as srv:
        yield srv


@pytest.fixture
def program(tmp_path: Path, server: RecordingSmtpServer) -> Program:
    return make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=server.port)


def cli(program: Program, *args: str, now: str | None = NOW,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    when = ["--now", now] if now else []
    return subprocess.run(
        [sys.executable, "-m", "mailflow", "-c", str(program.config), *when, *args],
        capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, **(env or {})})


def outbox(program: Program) -> dict[str, dict[str, object]]:
    rows = json.loads(cli(program, "export", "outbox", "--format", "json").stdout)
    return {row["key"]: row for row in rows}


def to_participants(server: RecordingSmtpServer) -> list[str]:
    return [r.rcpt_tos[0] for r in server.messages if r.rcpt_tos[0] != "committee@lib.example"]


def alerts(server: RecordingSmtpServer) -> list[str]:
    return [r.message().get_body(("plain",)).get_content()  # type: ignore[union-attr]
            for r in server.messages if r.rcpt_tos == ["committee@lib.example"]]


# --- 1. failed emails are sent again -----------------------------------------------------


def test_retry_sends_failed_emails_again_under_their_key_and_message_id(
        program: Program, server: RecordingSmtpServer) -> None:
    server.fail_next(550, n=3)  # the intros and the liaison welcome: refused for good
    first = cli(program, "send-due")
    assert first.returncode == 0, first.stderr
    assert "0 sent" in first.stdout and "3 failed" in first.stdout
    assert "mailflow outbox retry" in first.stdout
    failed = {k: r for k, r in outbox(program).items() if r["status"] == "failed"}
    assert len(failed) == 3
    assert all("550" in str(r["error"]) for r in failed.values())  # the server's answer
    [alert] = alerts(server)
    for key in failed:
        assert key in alert
    assert "550 5.1.1 Mailbox unavailable" in alert
    health = json.loads(cli(program, "status", "--json").stdout)["health"]
    assert health["last_error"] and "550" in health["last_error"]

    again = cli(program, "send-due")
    assert "0 sent" in again.stdout and "0 failed" in again.stdout  # failed stays failed

    welcome = next(k for k in failed if "/liaison_welcome/" in k)
    retried = cli(program, "outbox", "retry", "--key", welcome)
    assert retried.returncode == 0 and "1 failed email(s) will be sent" in retried.stdout
    assert cli(program, "outbox", "retry", "--kind", "topic").stdout.startswith("no failed")
    intros = cli(program, "outbox", "retry", "--kind", "intro", "--pair", "A")
    assert intros.stdout.count("pending again") == 2
    assert "nothing to send again" in cli(program, "outbox", "retry").stdout
    assert cli(program, "outbox", "retry", "--key", welcome).returncode == 1  # not failed now

    sent = cli(program, "send-due")
    assert sent.returncode == 0 and "3 sent" in sent.stdout, sent.stdout
    after = outbox(program)
    delivered = {str(r.message()["Message-ID"]) for r in server.messages
                 if r.rcpt_tos != ["committee@lib.example"]}
    assert delivered == {str(failed[k]["message_id"]) for k in failed}
    assert all(after[k]["status"] == "sent" and after[k]["error"] == "" for k in failed)
    assert sorted(to_participants(server)) == ["ann@lib.example", "l1@lib.example",
                                               "zoe@lib.example"]


# --- 2. a broken template sends nothing -----------------------------------------------------


def test_a_broken_template_sends_nothing_and_names_file_line_and_close_variable(
        program: Program, server: RecordingSmtpServer) -> None:
    template = program.folder / "templates" / "intro_mentee.md"
    good = template.read_text()
    template.write_text(good.replace("{{ pair.liaison.name }}", "{{ pair.liason.name }}"))

    dry = cli(program, "send-due", "--dry-run")
    assert dry.returncode == 1
    assert "templates/intro_mentee.md:" in dry.stdout and "did you mean `pair.liaison`?" in \
        dry.stdout
    assert server.messages == []

    real = cli(program, "send-due")
    assert real.returncode == 1
    assert "nothing" in real.stderr or "none of the" in real.stderr
    assert to_participants(server) == []  # not even the mentor's intro
    [alert] = alerts(server)
    assert "templates/intro_mentee.md:" in alert and "did you mean `pair.liaison`?" in alert
    assert cli(program, "send-due").returncode == 1
    assert len(alerts(server)) == 1  # the same broken template is reported once

    template.write_text(good)
    fixed = cli(program, "send-due")
    assert fixed.returncode == 0 and "3 sent" in fixed.stdout
    assert sorted(to_participants(server)) == ["ann@lib.example", "l1@lib.example",
                                               "zoe@lib.example"]


# --- 9. a simulation must not email real people ---------------------------------------------


def test_a_far_off_now_never_reaches_a_non_loopback_server(program: Program) -> None:
    program.set_smtp("192.0.2.25", 25)  # TEST-NET-1: not this machine
    for command in (["send-due"], ["digest"], ["run"]):
        refused = cli(program, *command)
        assert refused.returncode == 1, refused.stderr
        assert "--dry-run" in refused.stderr and "real people" in refused.stderr
        assert refused.stderr.count("error:") == 1
    dry = cli(program, "send-due", "--dry-run")
    assert dry.returncode == 0 and "3 emails would be sent" in dry.stdout
    assert json.loads(cli(program, "export", "outbox", "--format", "json").stdout) == []


def test_a_far_off_now_still_sends_to_a_local_test_server(
        program: Program, server: RecordingSmtpServer) -> None:
    assert cli(program, "send-due").returncode == 0
    assert len(server.messages) == 3


# --- 10. smaller points ------------------------------------------------------------------------


def test_now_without_an_offset_is_in_the_program_time_zone(
        program: Program, server: RecordingSmtpServer) -> None:
    # 09:00 in Chicago is 15:00 UTC: at 10:00 (read as UTC, 04:00 in Chicago) nothing is due
    early = cli(program, "send-due", "--dry-run", now="2027-01-04T08:30")
    assert "0 emails would be sent" in early.stdout
    due = cli(program, "send-due", "--dry-run", now="2027-01-04T09:00")
    assert "3 emails would be sent" in due.stdout


def test_status_shows_one_persons_own_pause(program: Program) -> None:
    import asyncio

    from mailflow.domain.model import Event, EventType

    app = program.app()
    with app.repository() as repo:
        repo.add_event("p1", Event(program.at(date(2027, 1, 10)), "A", "zoe@lib.example",
                                   "mentee", EventType.PAUSE, date(2027, 2, 1), "", "<p1@x>"))
    del asyncio
    result = cli(program, "status", "--json", now="2027-01-12T12:00")
    [row] = json.loads(result.stdout)["pairs"]
    assert row["state"] == "active"
    assert row["paused"] == [{"person": "zoe@lib.example", "role": "mentee",
                              "until": "2027-02-01"}]
    text = cli(program, "status", now="2027-01-12T12:00").stdout
    assert "active (mentee zoe@lib.example paused until 2027-02-01)" in text


def test_plan_lists_emails_in_time_order_across_offsets(tmp_path: Path,
                                                        server: RecordingSmtpServer) -> None:
    rows = ["A,Ann,ann@lib.example,Bo,bo@lib.example,Lia,l1@lib.example,,Asia/Tokyo,"]
    program = make_program(tmp_path / "q", start=START, rows=rows, smtp_port=server.port)
    planned = json.loads(cli(program, "plan", "--days", "20", "--json",
                             now="2027-01-01T00:00").stdout)
    instants = [row["due_at"] for row in planned]
    from datetime import datetime

    assert [datetime.fromisoformat(t) for t in instants] == sorted(
        datetime.fromisoformat(t) for t in instants)
    assert any("+09:00" in t for t in instants) and any("-06:00" in t for t in instants)


def test_report_counts_silent_pairs_and_is_dated_by_the_program_clock(
        tmp_path: Path, server: RecordingSmtpServer) -> None:
    rows = ["A,Ann,ann@lib.example,Bo,bo@lib.example,Lia,l1@lib.example,,,",
            "B,Cy,cy@lib.example,Di,di@lib.example,Lia,l1@lib.example,,,"]
    program = make_program(tmp_path / "r", start=START, rows=rows, smtp_port=server.port)
    from mailflow.domain.model import Event, EventType

    with program.app().repository() as repo:
        for month, day in ((1, 20), (2, 20)):
            repo.add_event(f"m{month}", Event(program.at(date(2027, month, day)), "A",
                                              "ann@lib.example", "mentor", EventType.MET,
                                              date(2027, month, day), "", f"<m{month}@x>"))
    out = tmp_path / "report.html"
    result = cli(program, "report", "--out", str(out), now="2027-02-25T12:00")
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    assert "1 of 2 pairs" in html  # B was silent in January: it counts, and did not meet
    assert "generated 2027-02-25 12:00" in html


def test_an_error_is_printed_once(program: Program, server: RecordingSmtpServer) -> None:
    server.fail_next(550, n=3)
    failed = cli(program, "send-due")
    assert failed.stdout.count("550 5.1.1") == 3 and "550" not in failed.stderr
    assert cli(program, "outbox", "retry").returncode == 0
    program.set_smtp("127.0.0.1", 1)  # nothing listens there
    result = cli(program, "send-due")
    assert result.returncode == 1
    assert result.stderr.count("127.0.0.1:1") == 1 and "127.0.0.1:1" not in result.stdout


def test_an_smtp_server_without_login_needs_no_password(program: Program,
                                                       server: RecordingSmtpServer) -> None:
    text = program.config.read_text().replace(
        'security = "none"\ntimeout_seconds = 5',
        'security = "none"\nusername = ""\npassword_env = "MF_UNSET_PASSWORD"\n'
        'timeout_seconds = 5', 1)
    program.config.write_text(text)
    result = cli(program, "send-due")
    assert result.returncode == 0 and "3 sent" in result.stdout, result.stderr


# --- 8. liaisons are welcomed before any digest ----------------------------------------------


def test_a_liaisons_first_email_is_the_welcome_never_an_empty_digest(
        program: Program, server: RecordingSmtpServer) -> None:
    # the program starts on a Monday: the digest hour (08:00) comes before the welcome (09:00)
    early = cli(program, "digest", now="2027-01-04T08:00")
    assert early.returncode == 0, early.stderr
    assert cli(program, "send-due", now="2027-01-04T09:00").returncode == 0
    assert cli(program, "digest", now="2027-01-11T08:00").returncode == 0  # nothing needs them
    to_liaison = [r.message()["X-Mailflow-Kind"] for r in server.messages
                  if r.rcpt_tos == ["l1@lib.example"]]
    assert to_liaison == ["liaison_welcome"]
