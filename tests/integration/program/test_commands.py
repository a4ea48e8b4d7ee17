"""The outbound and coordinator commands through the real command line (SPEC section 7)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from programs import Program, make_program
from smtp_server import RecordingSmtpServer

START = date(2027, 1, 4)
ROWS = ["A,Ann Mentor,ann@lib.example,Zoë Ñúñez,zoe@lib.example,Lia One,l1@lib.example,,,"]


@pytest.fixture
def server() -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer() as srv:
        yield srv


@pytest.fixture
def program(tmp_path: Path, server: RecordingSmtpServer) -> Program:
    return make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=server.port)


def cli(program: Program, *args: str, now: str = "2027-01-04T12:00:00-06:00"
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailflow", "-c", str(program.config), "--now", now, *args],
        capture_output=True, text=True, check=False, timeout=120)


def test_plan_dry_run_send_and_export(program: Program, server: RecordingSmtpServer) -> None:
    planned = json.loads(cli(program, "plan", "--days", "40", "--json",
                             now="2027-01-03T12:00:00-06:00").stdout)
    kinds = sorted({(row["kind"], row["person"]) for row in planned if row["kind"] != "digest"})
    assert ("intro", "ann@lib.example") in kinds and ("topic", "zoe@lib.example") in kinds
    assert ("liaison_welcome", "l1@lib.example") in kinds

    dry = cli(program, "send-due", "--dry-run")
    assert dry.returncode == 0 and "3 emails would be sent" in dry.stdout
    assert server.messages == []

    sent = cli(program, "send-due")
    assert sent.returncode == 0, sent.stderr
    assert "emails: 3 sent, 0 deferred (will retry), 0 failed" in sent.stdout
    assert len(server.messages) == 3
    again = cli(program, "send-due")
    assert "emails: 0 sent" in again.stdout and len(server.messages) == 3

    outbox = json.loads(cli(program, "export", "outbox", "--format", "json").stdout)
    assert {tuple(row) for row in outbox} == {(
        "key", "pair_id", "person", "role", "kind", "status", "message_id", "due_at",
        "sent_at", "attempts", "error")}
    assert {row["status"] for row in outbox} == {"sent"}
    delivered = {str(message_from_bytes(r.data, policy=policy.default)["Message-ID"])
                 for r in server.messages}
    assert {row["message_id"] for row in outbox} == delivered
    assert all(row["due_at"].endswith(("-06:00", "+00:00")) for row in outbox)

    events_csv = cli(program, "export", "events", "--format", "csv").stdout
    assert next(csv.reader(io.StringIO(events_csv))) == [
        "time", "pair_id", "person", "role", "type", "date", "text", "message_id", "value"]
    escalations = json.loads(cli(program, "export", "escalations", "--format", "json").stdout)
    assert escalations == []


def test_templates_check_and_preview(program: Program) -> None:
    assert cli(program, "templates", "check").returncode == 0
    out = program.folder / "topic.html"
    result = cli(program, "templates", "preview", "topic", "--pair", "A", "--out", str(out),
                 now="2027-02-04T12:00:00-06:00")
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    assert "Zoë" in html and "Professional development" in html and "{{" not in html
    eml = program.folder / "intro.eml"
    assert cli(program, "templates", "preview", "intro_mentor", "--pair", "A", "--out",
               str(eml)).returncode == 0
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert "Ann Mentor" in str(msg["To"])

    topic = program.folder / "templates" / "topic.md"
    topic.write_text(topic.read_text() + "\n{{ pair.goalz }}\n")
    broken = cli(program, "templates", "check")
    assert broken.returncode == 1
    assert "topic.md:" in broken.stderr and "goalz" in broken.stderr


def test_pair_pause_resume_and_end(program: Program) -> None:
    assert cli(program, "pair", "pause", "A", "--until", "2027-03-01").returncode == 0
    status = json.loads(cli(program, "status", "--json",
                            now="2027-02-10T12:00:00-06:00").stdout)
    assert status["pairs"][0]["state"] == "paused"
    planned = json.loads(cli(program, "plan", "--days", "1", "--json",
                             now="2027-02-03T12:00:00-06:00").stdout)
    topics = [row for row in planned if row["kind"] == "topic"]
    assert topics and all(row["status"] == "skipped" for row in topics)
    assert cli(program, "pair", "resume", "A").returncode == 0
    assert cli(program, "pair", "end", "A", "--reason", "moved away").returncode == 0
    status = json.loads(cli(program, "status", "--json").stdout)
    assert status["pairs"][0]["state"] == "ended"
    missing = cli(program, "pair", "end", "NOPE")
    assert missing.returncode == 1 and "no pair 'NOPE'" in missing.stderr
