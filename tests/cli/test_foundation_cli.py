"""init, check, roster import and status through the real command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Run

ROSTER_HEADER = (
    "pair_id,mentor_name,mentor_email,mentee_name,mentee_email,liaison_name,liaison_email,start\n"
)
GOOD_ROW = "P1,Ann Lee,ann@example.org,Zoë Ñúñez,zoe@example.org,Lia Ko,lia@example.org,\n"


def _edit(config: Path, old: str, new: str) -> None:
    text = config.read_text()
    assert old in text, f"{old!r} not in config"
    config.write_text(text.replace(old, new, 1))


def _store_files(program: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in program.glob("mailflow.json*") if p.is_file()}


def test_init_scaffolds_a_program_that_passes_check(mailflow: Run, program: Path) -> None:
    assert (program / "config.toml").is_file()
    assert (program / "templates").is_dir()
    result = mailflow("check", "--offline")  # the example servers are not real
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok:" in result.stdout


def test_init_refuses_to_overwrite(mailflow: Run, program: Path) -> None:
    result = mailflow("init", str(program))
    assert result.returncode == 1
    assert "already exists" in result.stderr


BROKEN_CONFIGS = [
    ('start = 2026-09-01', 'start = "9/1/26"',
     'config.toml: [program].start: expected a date like 2026-09-01, got "9/1/26"'),
    ('timezone = "America/Chicago"', 'timezone = "Mars/Olympus"',
     "config.toml: [program].timezone: expected an IANA time zone"),
    ('host = "smtp.example.org"', 'hostname = "smtp.example.org"',
     "config.toml: [smtp].host: is required but missing"),
    ('coordinators = ["mentoring-committee@example.org"]', 'coordinators = ["committee"]',
     "config.toml: [program].coordinators[0]: expected an email address"),
    ('send_time = "09:00"', 'send_time = "9am"',
     'config.toml: [program].send_time: expected a time like "09:00", got "9am"'),
    ('months = 9', 'months = "nine"', "config.toml: [program].months:"),
    ('security = "starttls"', 'security = "ssl"', "config.toml: [smtp].security: expected"),
    ('port = 587', 'port = 70000', "config.toml: [smtp].port:"),
    ('digest = "mon 08:00"', 'digest = "mondays"',
     'config.toml: [schedule].digest: expected a day and time like "mon 08:00"'),
    ('met = ["WE MET"]', 'mett = ["WE MET"]', "config.toml: [keywords]: unknown keyword 'mett'"),
    ('from = "Mentoring Committee <mentoring@example.org>"', 'from = "Mentoring <nowhere>"',
     "config.toml: [mail].from: expected an email address"),
    ('nudge_after_days = 42', 'nudge_afterdays = 42',
     "config.toml: [schedule].nudge_afterdays: is not a known key"),
    ('[program]', '[program\n', "config.toml: is not valid TOML"),
]


@pytest.mark.parametrize(("old", "new", "message"), BROKEN_CONFIGS,
                         ids=[c[2].split(":")[1].strip() for c in BROKEN_CONFIGS])
def test_a_broken_config_exits_1_naming_the_key(
    mailflow: Run, program: Path, old: str, new: str, message: str
) -> None:
    (program / "roster.csv").write_text(ROSTER_HEADER + GOOD_ROW)
    assert mailflow("roster", "import", "roster.csv").returncode == 0
    before = _store_files(program)
    _edit(program / "config.toml", old, new)
    for command in (["check"], ["status"], ["roster", "import", "roster.csv"]):
        result = mailflow(*command)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert _store_files(program) == before


BROKEN_ROSTERS = [
    (GOOD_ROW + "P1,Bob,bob@example.org,Cy,cy@example.org,Lia,lia@example.org,\n",
     "roster.csv: line 3: duplicate pair_id 'P1' (first on line 2)"),
    (GOOD_ROW + "P2,Bob,bob@example.org,Zoë,zoe@example.org,Lia,lia@example.org,\n",
     "roster.csv: line 3: mentee zoe@example.org is already in pair 'P1'"),
    ("P1,Ann,ann@example,Zoë,zoe@example.org,Lia,lia@example.org,\n",
     "roster.csv: line 2: mentor_email: expected an email address"),
    ("P1,Ann,ann@example.org,,zoe@example.org,Lia,lia@example.org,\n",
     "roster.csv: line 2: mentee_name: is empty"),
    ('P1,"Ann\nLee",ann@example.org,Zoë,zoe@example.org,Lia,lia@example.org,\n',
     "roster.csv: line 2: mentor_name: contains a line break"),
    ("P1,Ann\x07,ann@example.org,Zoë,zoe@example.org,Lia,lia@example.org,\n",
     "roster.csv: line 2: mentor_name: contains a control character"),
    ("P1,Ann,ann@example.org,Zoë,zoe@example.org,Lia,lia@example.org,2026-02-30\n",
     'roster.csv: line 2: start: expected a date like 2026-09-01, got "2026-02-30"'),
]


@pytest.mark.parametrize(("rows", "message"), BROKEN_ROSTERS,
                         ids=[m.split(": ", 2)[2][:30] for _, m in BROKEN_ROSTERS])
def test_a_broken_roster_changes_nothing_and_names_the_line(
    mailflow: Run, program: Path, rows: str, message: str
) -> None:
    (program / "good.csv").write_text(ROSTER_HEADER + GOOD_ROW)
    assert mailflow("roster", "import", "good.csv").returncode == 0
    before = _store_files(program)
    (program / "roster.csv").write_text(ROSTER_HEADER + rows)
    result = mailflow("roster", "import", "roster.csv")
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
    assert "nothing was changed" in result.stderr
    assert _store_files(program) == before
    # check reads roster.csv beside the config
    assert mailflow("check", "--offline").returncode == 1


def test_a_missing_column_is_named(mailflow: Run, program: Path) -> None:
    (program / "roster.csv").write_text("pair_id,mentor_name,mentor_email\nP1,Ann,a@example.org\n")
    result = mailflow("roster", "import", "roster.csv")
    assert result.returncode == 1
    expected = r"roster.csv: line 1: missing columns mentee_name, mentee_email"
    assert re.search(expected, result.stderr)


def test_a_spreadsheet_bom_and_accents_import_and_reimport_updates(
    mailflow: Run, program: Path
) -> None:
    (program / "roster.csv").write_bytes(("\ufeff" + ROSTER_HEADER + GOOD_ROW).encode("utf-8"))
    # imported when the term began (imported later, the pairs would join mid-term, SPEC 2)
    when = ("--now", "2026-09-01T12:00")
    result = mailflow(*when, "roster", "import", "roster.csv")
    assert result.returncode == 0, result.stderr
    assert "1 added" in result.stdout
    changed = GOOD_ROW.replace("Ann Lee", "Ann Lee-Park")
    other = "P2,Bob,bob@example.org,Cy,cy@example.org,Lia,lia@example.org,\n"
    (program / "roster.csv").write_text(ROSTER_HEADER + other)
    result = mailflow(*when, "roster", "import", "roster.csv")
    assert "1 added" in result.stdout and "P1" in result.stdout  # P1 kept and reported
    (program / "roster.csv").write_text(ROSTER_HEADER + changed + other)
    result = mailflow(*when, "roster", "import", "roster.csv")
    assert "1 updated" in result.stdout and "1 unchanged" in result.stdout
    status = json.loads(mailflow("--now", "2026-09-15T12:00", "status", "--json").stdout)
    assert [p["pair_id"] for p in status["pairs"]] == ["P1", "P2"]
    assert status["pairs"][0] == {
        "pair_id": "P1", "state": "active", "last_met": None, "quiet_days": 14,
        "open_escalations": 0, "paused": [],
    }
    assert set(status["health"]) == {"last_send_pass", "last_poll", "last_error"}


def test_usage_errors_exit_2(mailflow: Run) -> None:
    assert mailflow("no-such-command").returncode == 2
    result = mailflow("--now", "yesterday-ish", "status")
    assert result.returncode == 2
    assert "expected an ISO date" in result.stderr


def test_a_missing_config_says_how_to_make_one(mailflow: Run) -> None:
    result = mailflow("-c", "nowhere.toml", "status")
    assert result.returncode == 1
    assert "mailflow init" in result.stderr


def test_a_relative_ca_file_is_found_beside_the_config(mailflow: Run, program: Path) -> None:
    _edit(program / "config.toml", '# ca_file = "/etc/ssl/private-ca.pem"\n',
          'ca_file = "certs/ca.pem"\n')
    result = mailflow("-c", str(program / "config.toml"), "check", "--offline")
    assert result.returncode == 1
    assert "certs/ca.pem does not exist" in result.stderr
    (program / "certs").mkdir()
    (program / "certs" / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    elsewhere = program.parent  # run from another folder: the path is still the config's
    result = subprocess.run([sys.executable, "-m", "mailflow", "-c",
                             str(program / "config.toml"), "check", "--offline"],
                            cwd=elsewhere, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
