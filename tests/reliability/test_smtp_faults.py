"""Faults of the SMTP server, injected on real connections: what `send-due` does about them.

Every test checks the same promises: the pass ends within its timeouts, an email is
marked `sent` only if the server accepted it, nothing is lost (what was not sent stays
pending and goes out on a later pass, under the same Message-ID), and the pass says
what happened (exit status 1 and a clear message when the server cannot be reached or
refuses the login or its certificate; exit status 0 and the count when some emails met
a 4xx or 5xx).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from faultkit import BadCerts, FaultProxy, cli, make_bad_certs, set_keys
from programs import Program, make_program
from smtp_server import RecordingSmtpServer, free_port

from mailflow.domain.model import OutboxEntry, OutboxStatus

START = date(2027, 1, 4)
ROWS = ["A,Ann Mentor,ann@lib.example,Zoe Mentee,zoe@lib.example,Lia One,l1@lib.example,,,"]
TIMEOUT = 1.0  # [smtp].timeout_seconds
EXPECTED = 3  # the intros of mentor and mentee, and the liaison's welcome
BOUND = 4 * TIMEOUT + 6  # seconds a faulty pass may take at most (connect, retry, alerts)


@pytest.fixture
def server() -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer() as srv:
        yield srv


@pytest.fixture
def program(tmp_path: Path, server: RecordingSmtpServer) -> Program:
    program = make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=server.port)
    set_keys(program.config, "smtp", timeout_seconds=TIMEOUT, max_connections=1)
    program.at(START, 10)
    return program


@pytest.fixture(scope="module")
def bad_certs(tmp_path_factory: pytest.TempPathFactory) -> BadCerts:
    return make_bad_certs(tmp_path_factory.mktemp("bad-certs"))


def outbox(program: Program) -> dict[str, OutboxEntry]:
    with program.app().repository(readonly=True) as repo:
        return {e.key: e for e in repo.outbox()}


def accepted(server: RecordingSmtpServer) -> Counter[str]:
    return Counter(str(r.message()["Message-ID"]) for r in server.messages)


def assert_never_sent_unless_accepted(program: Program, server: RecordingSmtpServer) -> None:
    got = accepted(server)
    for entry in outbox(program).values():
        if entry.status == OutboxStatus.SENT:
            assert got[entry.message_id] >= 1, f"{entry.key} marked sent, never accepted"


def now_iso(program: Program) -> str:
    return program.clock.now().isoformat()


def later(program: Program, hours: float = 1) -> datetime:
    return program.at((program.clock.now() + timedelta(hours=hours)).date(),
                      (program.clock.now() + timedelta(hours=hours)).hour)


def assert_everything_sent_once(program: Program, server: RecordingSmtpServer,
                                may_repeat: int = 0) -> None:
    entries = [e for e in outbox(program).values() if e.kind != "alert"]
    assert len(entries) == EXPECTED
    assert {e.status for e in entries} == {OutboxStatus.SENT}, [(e.key, e.status) for e in entries]
    got = accepted(server)
    repeats = sum(got[e.message_id] - 1 for e in entries)
    assert all(got[e.message_id] >= 1 for e in entries)
    assert repeats <= may_repeat, got


# --- drops, stalls and lost answers at every command ------------------------------------------

# EHLO, then MAIL, RCPT, DATA and the end of data for each of the 3 emails, then QUIT
COMMANDS = list(range(0, 15))


@pytest.mark.parametrize("action", ["drop", "stall", "lose_reply"])
@pytest.mark.parametrize("at", COMMANDS)
async def test_smtp_connection_dropped_stalled_or_answer_lost_at_each_command(
    program: Program, server: RecordingSmtpServer, action: str, at: int
) -> None:
    """Fault injected: at the Nth SMTP command (0 = before the greeting) the proxy drops the
    connection, stalls it (a timeout), or lets the command through and cuts the answer."""
    with FaultProxy(server.host, server.port, protocol="smtp") as proxy:
        program.set_smtp(server.host, proxy.port)
        proxy.arm(at, action)  # type: ignore[arg-type]
        began = time.monotonic()
        report = await program.app().send_due()
        took = time.monotonic() - began
        assert took < BOUND, f"the pass took {took:.1f} s"
        fired = list(proxy.fired)
        assert fired, proxy.commands  # every command of the pass is reached
        assert_never_sent_unless_accepted(program, server)
        entries = outbox(program)
        unsent = [e for e in entries.values() if e.status != OutboxStatus.SENT]
        assert all(e.status == OutboxStatus.PENDING for e in unsent)  # a timeout is not a 5xx
        if unsent:  # the pass says why
            assert report.connection_error or report.deferred, fired
            for entry in unsent:
                if entry.key in dict(report.deferred):
                    assert entry.next_attempt_at is not None and entry.last_error
        # a later pass without the fault sends what is left, each email once more at most
        # when the server accepted it but its answer was lost
        program.clock.set(program.clock.now() + timedelta(hours=1))
        again = await program.app().send_due()
        assert not again.connection_error and not again.deferred and not again.failed
    lost_answer_to_data = action == "lose_reply" and any("<end of data>" in f for f in fired)
    assert_everything_sent_once(program, server, may_repeat=1 if lost_answer_to_data else 0)


# --- answers: 4xx and 5xx ------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "stage"), [(451, "data"), (450, "rcpt"), (421, "mail"),
                                             (452, "data")])
def test_smtp_4xx_answer_defers_the_email_and_the_pass_exits_0_saying_so(
    program: Program, server: RecordingSmtpServer, code: int, stage: str
) -> None:
    """Fault injected: the server answers a temporary 4xx to one email's MAIL, RCPT or DATA."""
    server.fail_next(code, stage=stage)  # type: ignore[arg-type]
    done = cli(program.config, "send-due", now=now_iso(program))
    assert done.returncode == 0, done.stderr
    assert f"{EXPECTED - 1} sent, 1 deferred (will retry)" in done.stdout, done.stdout
    assert str(code) in done.stdout
    assert_never_sent_unless_accepted(program, server)
    pending = [e for e in outbox(program).values() if e.status == OutboxStatus.PENDING]
    assert len(pending) == 1 and pending[0].attempts == 1 and pending[0].next_attempt_at
    # not before its backoff; then once
    done = cli(program.config, "send-due", now=now_iso(program))
    assert "0 sent" in done.stdout and len(server.messages) == EXPECTED - 1
    later(program)
    done = cli(program.config, "send-due", now=now_iso(program))
    assert done.returncode == 0 and "1 sent" in done.stdout, done.stdout
    assert_everything_sent_once(program, server)


@pytest.mark.parametrize(("code", "stage"), [(550, "rcpt"), (554, "data"), (553, "mail")])
def test_smtp_5xx_answer_fails_the_email_tells_the_coordinators_and_exits_0(
    program: Program, server: RecordingSmtpServer, code: int, stage: str
) -> None:
    """Fault injected: the server refuses one email for good (5xx at MAIL, RCPT or DATA)."""
    server.fail_next(code, stage=stage)  # type: ignore[arg-type]
    done = cli(program.config, "send-due", now=now_iso(program))
    assert done.returncode == 0, done.stderr
    assert "1 failed" in done.stdout and "FAILED" in done.stdout and str(code) in done.stdout
    assert_never_sent_unless_accepted(program, server)
    entries = outbox(program)
    failed = [e for e in entries.values() if e.status == OutboxStatus.FAILED]
    assert len(failed) == 1 and str(code) in failed[0].last_error
    alerts = [r.message() for r in server.messages if r.message()["X-Mailflow-Kind"] == "alert"]
    assert len(alerts) == 1 and "committee@lib.example" in str(alerts[0]["To"])
    assert failed[0].key in alerts[0].get_body(("plain",)).get_content()
    # a failed email is never retried by itself, and the alert is not repeated
    later(program)
    cli(program.config, "send-due", now=now_iso(program))
    assert accepted(server)[failed[0].message_id] == 0
    assert sum(r.message()["X-Mailflow-Kind"] == "alert" for r in server.messages) == 1


# --- the server cannot be used at all: exit status 1, nothing marked sent -----------------


def _nothing_sent(program: Program, server: RecordingSmtpServer) -> None:
    entries = [e for e in outbox(program).values() if e.kind != "alert"]
    assert len(entries) == EXPECTED
    assert {e.status for e in entries} == {OutboxStatus.PENDING}
    assert not [r for r in server.messages if r.message()["X-Mailflow-Kind"] != "alert"]


def test_smtp_unreachable_exits_1_saying_so(program: Program, server: RecordingSmtpServer) -> None:
    """Fault injected: nothing listens on the SMTP port (connection refused)."""
    program.set_smtp(server.host, free_port())
    done = cli(program.config, "send-due", now=now_iso(program))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "cannot connect to SMTP server 127.0.0.1" in done.stderr, done.stderr
    assert "nothing unsent was marked sent" in done.stderr
    _nothing_sent(program, server)


def test_smtp_stalled_greeting_exits_1_within_the_timeout(
    program: Program, server: RecordingSmtpServer
) -> None:
    """Fault injected: the SMTP server accepts the connection and never greets."""
    with FaultProxy(server.host, server.port, protocol="smtp") as proxy:
        proxy.outage("stall")
        program.set_smtp(server.host, proxy.port)
        began = time.monotonic()
        done = cli(program.config, "send-due", now=now_iso(program))
        took = time.monotonic() - began
    assert done.returncode == 1, done.stdout + done.stderr
    assert "did not answer within 1s" in done.stderr or "stopped answering" in done.stderr, \
        done.stderr
    assert took < BOUND + 3
    _nothing_sent(program, server)


def test_smtp_refused_login_exits_1_saying_so(
    program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injected: the SMTP server refuses the login (wrong password)."""
    with RecordingSmtpServer(auth=("mailflow", "right-password")) as auth_server:
        program.set_smtp(auth_server.host, auth_server.port)
        set_keys(program.config, "smtp", username="mailflow", password_env="RELIABILITY_SMTP_PW")
        monkeypatch.setenv("RELIABILITY_SMTP_PW", "wrong-password")
        done = cli(program.config, "send-due", now=now_iso(program))
        assert done.returncode == 1, done.stdout + done.stderr
        assert "refused the login for 'mailflow'" in done.stderr, done.stderr
        assert "wrong-password" not in done.stderr + done.stdout
        _nothing_sent(program, auth_server)


@pytest.mark.parametrize(("which", "says"), [
    ("self_signed", "self-signed certificate"),
    ("wrong_host", "mismatch, certificate is not valid for '127.0.0.1'"),
    ("expired", "certificate has expired"),
])
@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_smtp_invalid_certificate_is_refused_and_exits_1(
    program: Program, bad_certs: BadCerts, which: str, says: str, security: str
) -> None:
    """Fault injected: the SMTP server presents a self-signed certificate not in the CA file,
    one for another host name, or an expired one (implicit TLS and STARTTLS)."""
    context = bad_certs.context(which)
    kwargs = {"tls": context} if security == "tls" else {"starttls": context,
                                                         "require_starttls": True}
    with RecordingSmtpServer(**kwargs) as tls_server:  # type: ignore[arg-type]
        program.set_smtp(tls_server.host, tls_server.port)
        set_keys(program.config, "smtp", security=security, ca_file=bad_certs.trusted_ca)
        done = cli(program.config, "send-due", now=now_iso(program))
        assert done.returncode == 1, done.stdout + done.stderr
        assert "TLS certificate of SMTP server" in done.stderr, done.stderr
        assert says in done.stderr, done.stderr
        _nothing_sent(program, tls_server)
