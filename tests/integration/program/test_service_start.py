"""Sign-in tested early, one service per store, SIGHUP reloads (SPEC section 10), through
the real command line against an in-process aiosmtpd (with a login) and the test Dovecot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dovecot import IMAP_PASSWORD_ENV, ImapAccount
from programs import Program, program_polling
from smtp_server import RecordingSmtpServer

START = date(2027, 1, 4)
ROWS = ["A,Ann Mentor,ann@lib.example,Zoe Mentee,zoe@lib.example,Lia One,l1@lib.example,,,"]
SMTP_USER, SMTP_PASSWORD, SMTP_ENV = "mailflow", "s3cret-smtp", "MF_TEST_SMTP_PASSWORD"


@pytest.fixture
def server() -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer(auth=(SMTP_USER, SMTP_PASSWORD)) as srv:
        yield srv


@pytest.fixture
def program(tmp_path: Path, server: RecordingSmtpServer, imap_account: ImapAccount) -> Program:
    program = program_polling(tmp_path / "p", imap_account, start=START,
                              rows=ROWS, smtp_port=server.port, poll_seconds=0.5)
    text = program.config.read_text().replace(
        'security = "none"\ntimeout_seconds = 5',
        f'security = "none"\nusername = "{SMTP_USER}"\npassword_env = "{SMTP_ENV}"\n'
        'timeout_seconds = 5', 1)
    program.config.write_text(text)
    return program


def env(smtp: str = SMTP_PASSWORD, imap: str | None = None) -> dict[str, str]:
    values = {**os.environ, SMTP_ENV: smtp}
    if imap is not None:
        values[IMAP_PASSWORD_ENV] = imap
    return values


def cli(program: Program, *args: str, environ: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailflow", "-c", str(program.config), *args],
                          capture_output=True, text=True, check=False, timeout=120,
                          env=environ or env())


def start_service(program: Program, *args: str, environ: dict[str, str] | None = None,
                  ) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mailflow", "-c", str(program.config), "run", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=environ or env())


def wait_for_log(proc: subprocess.Popen[str], text: str, seconds: float = 30) -> list[str]:
    """Lines of the service's log (stderr) up to the first that holds ``text``."""
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"{text!r} not logged; the log was:\n{''.join(lines)}")


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, wait, and the rest of its log."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, rest = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, rest = proc.communicate()
    return rest or ""


# --- sign-in tested early ----------------------------------------------------------------


def test_check_signs_in_to_both_servers_and_names_the_one_that_refused(
        program: Program, server: RecordingSmtpServer) -> None:
    good = cli(program, "check")
    assert good.returncode == 0, good.stderr
    assert "[smtp]: signed in" in good.stdout and "[imap]: signed in" in good.stdout
    assert (SMTP_USER, True) in server.logins

    smtp_wrong = cli(program, "check", environ=env(smtp="wrong"))
    assert smtp_wrong.returncode == 1
    assert "[smtp] sign-in failed" in smtp_wrong.stderr and "[imap]" not in smtp_wrong.stderr
    assert "wrong" not in smtp_wrong.stderr + smtp_wrong.stdout

    imap_wrong = cli(program, "check", environ=env(imap="wrong"))
    assert imap_wrong.returncode == 1
    assert "[imap] sign-in failed" in imap_wrong.stderr and "[smtp]" not in imap_wrong.stderr

    offline = cli(program, "check", "--offline", environ=env(smtp="wrong", imap="wrong"))
    assert offline.returncode == 0 and "signed in" not in offline.stdout


def test_run_exits_1_at_start_when_a_server_refuses_the_login(program: Program) -> None:
    for environ, server_name in ((env(imap="wrong"), "[imap]"), (env(smtp="wrong"), "[smtp]")):
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "mailflow", "-c", str(program.config), "run"],
            capture_output=True, text=True, timeout=60, env=environ, check=False)
        assert result.returncode == 1
        assert f"{server_name} sign-in failed" in result.stderr
        assert "refused the login" in result.stderr
        assert time.monotonic() - started < 30


# --- one service per store ------------------------------------------------------------------


def test_a_second_service_on_the_same_store_refuses_to_start_and_names_the_first(
        program: Program) -> None:
    first = start_service(program)
    try:
        wait_for_log(first, "mailflow running")
        second = cli(program, "run")
        assert second.returncode == 1
        assert f"process id {first.pid}" in second.stderr
        assert first.poll() is None  # the first one goes on
    finally:
        stop(first)
    assert first.returncode == 0
    again = start_service(program)  # the lock went with the first process
    try:
        wait_for_log(again, "mailflow running")
    finally:
        stop(again)


# --- config changes -------------------------------------------------------------------------


def test_sighup_reloads_a_valid_config_and_refuses_a_broken_one_keeping_the_running_one(
        program: Program, server: RecordingSmtpServer) -> None:
    service = start_service(program)
    try:
        wait_for_log(service, "mailflow running")
        original = program.config.read_text()
        program.config.write_text(original.replace(
            'coordinators = ["committee@lib.example"]',
            'coordinators = ["chair@lib.example"]'))
        lines = wait_for_log(service, "restart or reload to apply")
        service.send_signal(signal.SIGHUP)
        wait_for_log(service, "reloaded")

        program.config.write_text(program.config.read_text().replace(
            "[program]", "[program]\nmonths = oops"))
        service.send_signal(signal.SIGHUP)
        lines = wait_for_log(service, "reload refused")
        assert "is not valid TOML" in lines[-1]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not server.messages:
            time.sleep(0.2)
        # the alert goes to the coordinators of the reloaded config: it had been applied
        [alert] = [r for r in server.messages if r.message()["X-Mailflow-Kind"] == "alert"]
        assert alert.rcpt_tos == ["chair@lib.example"]
        assert "is not valid TOML" in alert.message().get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert service.poll() is None  # still running, on the config it had
    finally:
        log = stop(service)
    assert "changed on disk" not in log  # logged once, before the reload; not again
