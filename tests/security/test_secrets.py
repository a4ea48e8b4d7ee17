"""Secrets: no password in logs (every logger, DEBUG, including the aiosmtplib/aioimaplib
libraries), CLI output, exports, status or tracebacks, across successful and failing send
and poll passes; store files are created 0600 whatever the umask."""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from dovecot import IMAP_PASSWORD_ENV, ImapAccount
from helpers import ROWS, START, reply, sent_to
from programs import Program, imap_toml, make_program
from smtp_server import RecordingSmtpServer

from mailflow.cli import main

SMTP_USER, SMTP_PASSWORD = "mailer", "smtp-S3cret-Pa55word-xyzzy"
SMTP_ENV = "MAILFLOW_TEST_SMTP_PASSWORD"


class _Everything(logging.Handler):
    """Keeps every formatted log line, with its traceback, from every logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def every_log_line() -> Iterator[_Everything]:
    handler = _Everything()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    loggers = [logging.getLogger(n) for n in ("aiosmtplib", "aioimaplib", "mailflow")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


@pytest.fixture
def auth_smtp() -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer(auth=(SMTP_USER, SMTP_PASSWORD)) as server:
        yield server


def _with_smtp_login(program: Program) -> None:
    text = program.config.read_text()
    text = text.replace("timeout_seconds = 5\n", f'timeout_seconds = 5\nusername = "{SMTP_USER}"'
                        f'\npassword_env = "{SMTP_ENV}"\n', 1)
    program.config.write_text(text)


def _set_imap(program: Program, imap: ImapAccount, **changes: str) -> None:
    text = program.config.read_text()
    start = text.index("[imap]")
    end = text.index("[[topics]]")
    block = imap_toml(imap.host, imap.server.imaps_port, imap.username, IMAP_PASSWORD_ENV,
                      imap.ca_file)
    for key, value in changes.items():
        block = re.sub(rf"^{key} = .*$", f"{key} = {value}", block, flags=re.M)
    program.config.write_text(text[:start] + block + "\n" + text[end:])


def _inside_token(sasl: str) -> str:
    """24 base64 characters of a SASL string that encode only bytes of its token."""
    import base64

    start = base64.b64decode(sasl).index(b"auth=Bearer ") + len(b"auth=Bearer ")
    first = (start + 2) // 3 * 4  # the first base64 group that begins inside the token
    return sasl[first:first + 24]


def _assert_no_secret(where: str, text: str, secrets: tuple[str, ...]) -> None:
    for secret in secrets:
        assert secret not in text, f"a password appears in {where}"


def test_no_password_in_logs_outputs_exports_or_tracebacks(
        tmp_path: Path, auth_smtp: RecordingSmtpServer, imap_account: ImapAccount,
        every_log_line: _Everything, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = (SMTP_PASSWORD, imap_account.password)
    monkeypatch.setenv(SMTP_ENV, SMTP_PASSWORD)
    monkeypatch.setenv(IMAP_PASSWORD_ENV, imap_account.password)
    program = make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=auth_smtp.port)
    _with_smtp_login(program)
    _set_imap(program, imap_account)
    runner = CliRunner()
    outputs: dict[str, str] = {}

    def run(name: str, *args: str, env: dict[str, str] | None = None) -> None:
        result = runner.invoke(main, ["-c", str(program.config), "--now",
                                      "2027-01-04T18:00", *args], env=env)
        outputs[name] = result.output + (
            "".join(__import__("traceback").format_exception(result.exception))
            if result.exception and not isinstance(result.exception, SystemExit) else "")

    # a refused SMTP login first, while everything is still due
    wrong = {SMTP_ENV: "wrong-" + SMTP_PASSWORD[::-1], IMAP_PASSWORD_ENV: "wrong-pw-42"}
    secrets += tuple(wrong.values())
    run("send refused", "send-due", env=wrong)
    assert "refused the login" in outputs["send refused"], outputs["send refused"]
    assert not auth_smtp.messages
    # successful passes
    run("send-due", "send-due")
    assert auth_smtp.messages, outputs["send-due"]
    intro = sent_to(auth_smtp, "zoe@lib.example", "intro")
    imap_account.append([reply(intro, "Zoë <zoe@lib.example>", "HELP we need you\n")])
    run("poll", "poll")
    assert "1 message(s) handled" in outputs["poll"], outputs["poll"]
    # failures: refused logins, a TLS certificate that is not trusted, a server that is
    # not IMAP at all (an unexpected answer to the login)
    run("poll refused", "poll", env=wrong)
    _set_imap(program, imap_account, ca_file='"/etc/ssl/certs/ca-certificates.crt"')
    run("poll tls error", "poll")
    _set_imap(program, imap_account, port=str(auth_smtp.port), security='"none"')
    run("poll not imap", "poll")
    _set_imap(program, imap_account)
    # everything that shows stored data
    for name in ("events", "escalations", "outbox"):
        run(f"export {name}", "export", name, "--format", "json")
    run("status", "status", "--json")
    run("check", "check")
    assert "refused the login" in outputs["poll refused"]
    assert "error" in outputs["poll tls error"].lower()

    for name, text in outputs.items():
        _assert_no_secret(f"the output of {name}", text, secrets)
    _assert_no_secret("the log", "\n".join(every_log_line.lines), secrets)
    assert len(every_log_line.lines) > 20  # the DEBUG logs were really captured
    for path in program.folder.rglob("*"):
        if path.is_file():
            _assert_no_secret(str(path), path.read_bytes().decode("utf-8", "replace"), secrets)


def test_a_crash_traceback_shows_no_password(tmp_path: Path) -> None:
    """Fault injected: a store whose pair record has the wrong shape, so `mailflow send-due`
    dies with a Python traceback (passwords in its environment); it holds no secret."""
    program = make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=1)
    _with_smtp_login(program)
    text = program.config.read_text().replace(
        '[imap]\nhost = "127.0.0.1"\nport = 1\n',
        f'[imap]\nhost = "127.0.0.1"\nport = 1\nusername = "u"\npassword_env = '
        f'"{IMAP_PASSWORD_ENV}"\n', 1)
    program.config.write_text(text)
    for path in program.folder.glob("mailflow.json*"):
        path.unlink()
    (program.folder / "mailflow.json").write_text(
        '{"pairs": {"1": {"id": "A", "mentor": ["' + SMTP_PASSWORD + '?"]}}}')
    env = {**os.environ, SMTP_ENV: SMTP_PASSWORD, IMAP_PASSWORD_ENV: "imap-S3cret-zz"}
    done = subprocess.run([sys.executable, "-m", "mailflow", "-c", str(program.config),
                           "--now", "2027-01-04T18:00", "send-due"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode != 0
    assert "Traceback" in done.stderr, done.stderr[-2000:]
    _assert_no_secret("the crash output", done.stdout + done.stderr.replace(
        SMTP_PASSWORD + "?", ""), (SMTP_PASSWORD, "imap-S3cret-zz"))


def test_store_files_are_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    """Fault injected: umask 000. Store, journal, lock and backup are still owner-only."""
    program = make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=1)
    for path in program.folder.glob("mailflow.json*"):
        path.unlink()

    def mailflow(*args: str) -> None:
        subprocess.run([sys.executable, "-m", "mailflow", "-c", str(program.config), *args],
                       check=True, capture_output=True, timeout=60, umask=0)

    mailflow("roster", "import", str(program.folder / "roster.csv"))
    mailflow("pair", "pause", "A")  # a commit: the journal
    mailflow("backup", str(program.folder / "backup.json"))
    files = [*sorted(program.folder.glob("mailflow.json*")), program.folder / "backup.json"]
    names = {p.name for p in files}
    assert {"mailflow.json", "mailflow.json.journal", "mailflow.json.lock",
            "backup.json"} <= names, names
    for path in files:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == 0o600, f"{path.name} has mode {oct(mode)}"


def test_no_oauth_token_or_secret_in_logs_outputs_exports_store_or_tracebacks(
        tmp_path: Path, imap_account: ImapAccount, oauth_server: object,
        every_log_line: _Everything, monkeypatch: pytest.MonkeyPatch) -> None:
    """OAuth 2.0 on both servers, the refresh-token grant of a confidential app: its
    secret, every access and refresh token the server gave, none appears anywhere but
    in the token cache (the refresh token, 0600) -- through a login, passes, a secret
    the server refuses mid-way, exports, status and `auth status`."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration" / "oauth"))
    from oauth_helpers import SECRET_ENV, Mailbox, custom_toml, oauth_program
    from oauth_server import OAuthServer

    from mailflow.oauth.sasl import initial_response

    assert isinstance(oauth_server, OAuthServer)
    for name in ("httpx2", "httpcore2", "authlib"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.DEBUG)
    client = oauth_server.add_client({imap_account.username})
    monkeypatch.setenv(SECRET_ENV, client.secret or "")
    monkeypatch.setattr(oauth_server, "auto_approve", imap_account.username)
    mailbox = Mailbox(imap_account, client, oauth_server)
    with RecordingSmtpServer(oauth=oauth_server.check) as smtp:
        program = oauth_program(tmp_path / "p", mailbox, smtp,
                                custom_toml(oauth_server, client, grant="refresh_token"))
        runner = CliRunner()
        outputs: dict[str, str] = {}

        def run(name: str, *args: str) -> None:
            result = runner.invoke(main, ["-c", str(program.config), "--now",
                                          "2027-01-04T18:00", *args])
            outputs[name] = result.output + (
                "".join(__import__("traceback").format_exception(result.exception))
                if result.exception and not isinstance(result.exception, SystemExit) else "")

        run("auth login", "auth", "login")
        assert "signed in" in outputs["auth login"], outputs["auth login"]
        run("send-due", "send-due")
        intro = sent_to(smtp, "zoe@lib.example", "intro")
        imap_account.append([reply(intro, "Zoë <zoe@lib.example>", "HELP we need you\n")])
        run("poll", "poll")
        assert "1 message(s) handled" in outputs["poll"], outputs["poll"]
        old_secret = client.secret or ""
        oauth_server.set_secret(client.client_id)  # refused from now on
        run("poll refused", "poll")
        assert "invalid_client" in outputs["poll refused"], outputs["poll refused"]
        for name in ("events", "escalations", "outbox"):
            run(f"export {name}", "export", name, "--format", "json")
        run("status", "status", "--json")
        run("auth status", "auth", "status")
        run("check", "check")
    secrets = (old_secret, client.secret or "", *oauth_server.every_token)
    assert len(oauth_server.every_token) >= 6  # access and refresh tokens were issued
    # the SASL strings too: base64 hides a token from a plain search, not from a reader
    sasl_strings = tuple(
        initial_response(mechanism, imap_account.username, token, host, port)
        for token in oauth_server.every_token for mechanism in ("XOAUTH2", "OAUTHBEARER")
        for host, port in ((imap_account.host, imap_account.server.imaps_port),
                           (smtp.host, smtp.port)))
    secrets += tuple(_inside_token(s) for s in sasl_strings)
    for name, text in outputs.items():
        _assert_no_secret(f"the output of {name}", text, secrets)
    _assert_no_secret("the log", "\n".join(every_log_line.lines), secrets)
    assert any(line.startswith("httpcore2") for line in every_log_line.lines)
    cache = program.folder / "mailflow-oauth.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    held = json.loads(cache.read_text())
    assert held["refresh_token"] in oauth_server.every_token
    for path in program.folder.rglob("*"):
        if path.is_file() and path != cache:
            _assert_no_secret(str(path), path.read_bytes().decode("utf-8", "replace"), secrets)
    _assert_no_secret(str(cache), cache.read_text().replace(held["refresh_token"], ""),
                      secrets)
