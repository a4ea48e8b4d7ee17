"""Data protection: `mailflow purge --before DATE` removes what people wrote once their term
is over, keeps what the report and status count, refuses a DATE that would cut into a term,
supports --dry-run and is one store transaction."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers import ROWS, START
from programs import Program, make_program

from mailflow.adapters.store import TinyDBStore
from mailflow.cli import main
from mailflow.services.inbound import Inbound
from mailflow.services.state import ProgramState

MONTHS = 3  # the term ends 2027-04-04
SECRETS = ("mother's illness", "salary negotiation", "burnout", "private stranger subject")


def _message(sender: str, subject: str, body: str, n: int) -> bytes:
    return (f"From: {sender}\r\nTo: mentoring@lib.example\r\nSubject: {subject}\r\n"
            f"Message-ID: <{n}.purge@client.example>\r\nDate: Tue, 5 Jan 2027 10:00:00 -0600"
            f"\r\n\r\n{body}\r\n").encode()


@pytest.fixture
def program(tmp_path: Path) -> Program:
    program = make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=1, months=MONTHS)
    program.at(date(2027, 1, 5))
    app = program.app()
    now = program.clock.now()
    replies = [
        _message("zoe@lib.example", "Re: intro", "MET yesterday - talked about my mother's "
                 "illness\nGOAL salary negotiation", 1),
        _message("ann@lib.example", "Re: intro", "HELP Zoe mentioned burnout", 2),
        _message("bob@lib.example", "Re: intro", "NOT MET", 3),
        _message("stranger@else.example", "private stranger subject", "hello", 4),
    ]
    with app.repository() as repo:
        state = ProgramState.load(repo, app.settings.program_model(), now)
        inbound = Inbound(app.settings, repo, state, now)
        with repo.transaction():
            for raw in replies:
                inbound.handle(raw)
    return program


def cli(program: Program, *args: str, now: str = "2027-06-01T12:00") -> Result:
    return CliRunner().invoke(main, ["-c", str(program.config), "--now", now, *args])


def _store_bytes(program: Program) -> bytes:
    return b"".join(p.read_bytes() for p in program.folder.glob("mailflow.json*")
                    if p.is_file())


def _exports(program: Program) -> dict[str, list[dict[str, object]]]:
    out = {}
    for what in ("events", "escalations", "outbox"):
        result = cli(program, "export", what, "--format", "json")
        assert result.exit_code == 0, result.output
        out[what] = json.loads(result.stdout)
    return out


def test_secrets_are_stored_before_purge(program: Program) -> None:
    data = _store_bytes(program)
    assert all(secret.encode() in data for secret in SECRETS)


def _seq(program: Program) -> int:
    store = TinyDBStore(program.folder / "mailflow.json", readonly=True)
    return int(store._seq)  # the number of commits the store has seen


def _without_text(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in row.items() if k != "text"} for row in rows]


def test_purge_removes_texts_and_keeps_counts(program: Program) -> None:
    """Fault injected: personal texts left in the store after the term; purge removes every
    one in a single commit, and exports (but for text) and status are unchanged."""
    before = _exports(program)
    status_before = json.loads(cli(program, "status", "--json").stdout)
    seq = _seq(program)
    result = cli(program, "purge", "--before", "2027-05-01")
    assert result.exit_code == 0, result.output
    assert "of 2 pair(s) whose term ended before 2027-05-01: A, B" in result.stdout
    assert _seq(program) == seq + 1  # one transaction (then a compaction, which is no commit)
    data = _store_bytes(program)
    assert not [s for s in SECRETS if s.encode() in data]
    after = _exports(program)
    assert _without_text(after["events"]) == _without_text(before["events"])
    assert _without_text(after["escalations"]) == _without_text(before["escalations"])
    assert after["outbox"] == before["outbox"]
    assert {e["type"] for e in after["events"]} >= {"met", "goal", "help", "not_met",
                                                     "quarantined"}
    assert all(e["text"] == "" for e in after["events"] + after["escalations"])
    status_after = json.loads(cli(program, "status", "--json").stdout)
    assert status_after["pairs"] == status_before["pairs"]
    assert status_after["counts"] == status_before["counts"]
    report = cli(program, "report", "--out", str(program.folder / "report.html"))
    assert report.exit_code == 0, report.output
    # purging again changes nothing and is not an error
    again = cli(program, "purge", "--before", "2027-05-01")
    assert again.exit_code == 0 and "texts of 0 event(s)" in again.stdout


def test_dry_run_changes_nothing(program: Program) -> None:
    data = _store_bytes(program)
    result = cli(program, "purge", "--before", "2027-05-01", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("dry run: would remove the texts of 4 event(s)")
    assert _store_bytes(program) == data


@pytest.mark.parametrize(("day", "message"), [
    ("2027-03-01", "not over by then: A (ends 2027-04-04). Give a date after 2027-04-04, "
                   "or end those pairs first"),
    ("2027-04-04", "Give a date after 2027-04-04"),  # the last day of the term is not past it
    ("2027-07-01", "is in the future (today is 2027-06-01)"),
])
def test_refuses_a_date_inside_a_term_or_in_the_future(
        program: Program, day: str, message: str) -> None:
    data = _store_bytes(program)
    result = cli(program, "purge", "--before", day)
    assert result.exit_code == 1
    assert message in result.stderr, result.stderr
    assert _store_bytes(program) == data


def test_an_ended_pair_can_be_purged_before_the_term_ends(program: Program) -> None:
    """A pair the coordinators ended is over on that day: its texts can go, B's stay."""
    assert cli(program, "pair", "end", "A", now="2027-02-01T12:00").exit_code == 0
    result = cli(program, "purge", "--before", "2027-02-15", now="2027-03-01T12:00")
    assert result.exit_code == 0, result.output
    data = _store_bytes(program)
    assert b"burnout" not in data and b"mother's illness" not in data
    # pair B has no texts (NOT MET has none), the stranger's message is before the date
    assert b"private stranger subject" not in data

