"""Faults of the IMAP server (a real Dovecot behind a fault-injecting TCP proxy): `poll`.

Every test checks: the pass ends within its timeouts; no reply is lost (each one is in
the INBOX or, once its effects are stored, in Processed -- never both, never gone);
every reply is processed exactly once in the end (its events, per incoming Message-ID,
are exactly what its keywords call for, and its sender gets one ack); and the pass says
what happened (exit status 1 and a clear message when the server cannot be reached,
refuses the login, presents a bad certificate or fails mid-pass).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from dovecot import IMAP_PASSWORD_ENV, ImapAccount
from faultkit import BadCerts, FaultProxy, cli, make_bad_certs, message_id_of, reply, set_keys
from programs import Program, make_program
from smtp_server import RecordingSmtpServer, free_port

START = date(2027, 1, 4)
ROWS = [
    "A,Ann Mentor,ann@lib.example,Zoe Mentee,zoe@lib.example,Lia One,l1@lib.example,,,",
    "B,Bob Mentor,bob@lib.example,Ben Mentee,ben@lib.example,Lia One,l1@lib.example,,,",
]
ANSWERS = {  # who answers their intro, with what, and the events it must make
    "zoe@lib.example": ("MET yesterday\nGOAL learn cataloguing", Counter(met=1, goal=1)),
    "ann@lib.example": ("GOAL share grant writing", Counter(goal=1)),
    "ben@lib.example": ("HELP we cannot find a time to meet", Counter(help=1)),
}
TIMEOUT = 1.0  # [imap].timeout_seconds
BOUND = 3 * TIMEOUT + 8  # seconds a faulty pass may take at most


@pytest.fixture
def server() -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer() as srv:
        yield srv


@pytest.fixture
def program(tmp_path: Path, server: RecordingSmtpServer, imap_account: ImapAccount) -> Program:
    imap_account.settings()  # puts the password in the environment
    program = make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=server.port)
    set_keys(program.config, "imap", host=imap_account.host,
             port=imap_account.server.imap_port, security="none",
             username=imap_account.username, password_env=IMAP_PASSWORD_ENV,
             timeout_seconds=TIMEOUT, batch_size=2)
    program.at(START, 10)
    program.send_due()
    return program


@pytest.fixture(scope="module")
def bad_certs(tmp_path_factory: pytest.TempPathFactory) -> BadCerts:
    return make_bad_certs(tmp_path_factory.mktemp("bad-certs"))


@pytest.fixture
def replies(program: Program, server: RecordingSmtpServer,
            imap_account: ImapAccount) -> dict[str, tuple[str, Counter[str]]]:
    """Three replies to the intros, in the INBOX: Message-ID -> (sender, events)."""
    expected = {}
    raws = []
    for received in server.messages:
        msg = received.message()
        to = str(msg["To"]).rsplit("<", 1)[-1].rstrip(">")
        if msg["X-Mailflow-Kind"] == "intro" and to in ANSWERS:
            raw = reply(msg, to, ANSWERS[to][0])
            raws.append(raw)
            expected[message_id_of(raw)] = (to, ANSWERS[to][1])
    assert len(raws) == 3
    imap_account.append(raws)
    return expected


def ids_in(account: ImapAccount, folder: str) -> Counter[str]:
    if folder != "INBOX" and folder not in account.folders():
        return Counter()  # not created yet
    return Counter(message_id_of(raw) for raw, _ in account.messages(folder).values())


def effects(program: Program) -> dict[str, Counter[str]]:
    with program.app().repository(readonly=True) as repo:
        out: dict[str, Counter[str]] = {}
        for event in repo.events():
            out.setdefault(event.message_id, Counter())[str(event.type)] += 1
        return out


def assert_nothing_lost(program: Program, account: ImapAccount,
                        expected: dict[str, tuple[str, Counter[str]]]) -> None:
    """Each reply is in the INBOX or in Processed (with its effects stored), never both."""
    inbox, processed = ids_in(account, "INBOX"), ids_in(account, "Processed")
    assert inbox + processed == Counter(expected.keys()), (inbox, processed)
    assert ids_in(account, "Quarantine") == Counter()
    stored = effects(program)
    for mid in processed:
        assert stored.get(mid) == expected[mid][1], (mid, stored.get(mid))
    for mid in inbox:  # stored or not, but never half
        assert stored.get(mid) in (None, expected[mid][1]), (mid, stored.get(mid))


def assert_processed_once(program: Program, server: RecordingSmtpServer, account: ImapAccount,
                          expected: dict[str, tuple[str, Counter[str]]]) -> None:
    assert ids_in(account, "INBOX") == Counter()
    assert ids_in(account, "Processed") == Counter(expected.keys())
    stored = effects(program)
    assert {mid: stored.get(mid) for mid in expected} == {
        mid: events for mid, (_, events) in expected.items()}
    sent = [r.message() for r in server.messages]
    acks = Counter(m["To"].addresses[0].addr_spec for m in sent if m["X-Mailflow-Kind"] == "ack")
    assert acks == Counter(sender for sender, _ in expected.values()), acks
    escalations = [m for m in sent if m["X-Mailflow-Kind"] == "escalation"]
    assert len(escalations) == 1 and "l1@lib.example" in str(escalations[0]["To"])


# --- drops, stalls, lost answers and refusals at every command of a poll pass ----------------

# greeting, LOGIN, CAPABILITY, LIST/CREATE/SUBSCRIBE x2, SELECT, NOOP, UID SEARCH,
# UID FETCH + UID MOVE for each chunk of 2, LOGOUT: 17 commands
COMMANDS = list(range(0, 18))


@pytest.mark.parametrize("action", ["drop", "stall", "lose_reply", "no"])
@pytest.mark.parametrize("at", COMMANDS)
async def test_imap_connection_dropped_stalled_answer_lost_or_refused_at_each_command(
    program: Program, server: RecordingSmtpServer, imap_account: ImapAccount,
    replies: dict[str, tuple[str, Counter[str]]], action: str, at: int,
) -> None:
    """Fault injected: at the Nth IMAP command of a poll pass (0 = before the greeting) the
    proxy drops the connection, stalls it (a timeout), lets the command through and cuts
    the answer, or answers NO itself."""
    with FaultProxy(imap_account.host, imap_account.server.imap_port) as proxy:
        set_keys(program.config, "imap", port=proxy.port)
        proxy.arm(at, action)  # type: ignore[arg-type]
        began = time.monotonic()
        report, _ = await program.app().poll()
        took = time.monotonic() - began
        fired = list(proxy.fired)
        assert fired or at > len(proxy.commands), proxy.commands  # every command is reached
        assert took < BOUND, f"the pass took {took:.1f} s ({fired})"
        assert_nothing_lost(program, imap_account, replies)
        if ids_in(imap_account, "INBOX"):
            assert report.connection_error, fired  # the pass says it did not finish
        program.clock.set(program.clock.now() + timedelta(minutes=2))
        again, _ = await program.app().poll()
        assert not again.connection_error, again.connection_error
    assert_processed_once(program, server, imap_account, replies)


@pytest.mark.parametrize("keep", [0, 40, 300, 1200])
async def test_imap_fetch_answer_cut_mid_message_loses_nothing(
    program: Program, server: RecordingSmtpServer, imap_account: ImapAccount,
    replies: dict[str, tuple[str, Counter[str]]], keep: int,
) -> None:
    """Fault injected: the connection is cut after `keep` bytes of the UID FETCH answer
    (inside the first message's literal), on the first and then on the second chunk."""
    with FaultProxy(imap_account.host, imap_account.server.imap_port) as proxy:
        set_keys(program.config, "imap", port=proxy.port)
        for _ in range(2):
            proxy.arm("UID FETCH", "cut_reply", keep=keep)
            report, _ = await program.app().poll()
            assert proxy.fired and report.connection_error, proxy.fired
            assert "closed the connection" in report.connection_error
            assert_nothing_lost(program, imap_account, replies)
            program.clock.set(program.clock.now() + timedelta(minutes=2))
        again, _ = await program.app().poll()
        assert not again.connection_error
    assert_processed_once(program, server, imap_account, replies)


# --- the CLI: exit status 1 and a clear message; the replies stay in the INBOX ----------------


def _poll_fails(program: Program, account: ImapAccount, replies: dict[str, object],
                *says: str) -> None:
    began = time.monotonic()
    done = cli(program.config, "poll", now=program.clock.now().isoformat())
    took = time.monotonic() - began
    assert done.returncode == 1, done.stdout + done.stderr
    for text in says:
        assert text in done.stderr, done.stderr
    assert took < BOUND + 3, took
    assert ids_in(account, "INBOX") == Counter(replies.keys())
    assert effects(program) == {}


def test_imap_unreachable_poll_exits_1_saying_so(
    program: Program, imap_account: ImapAccount, replies: dict[str, object]
) -> None:
    """Fault injected: nothing listens on the IMAP port (connection refused)."""
    set_keys(program.config, "imap", port=free_port())
    _poll_fails(program, imap_account, replies, "cannot connect to IMAP server 127.0.0.1")


def test_imap_refused_login_poll_exits_1_saying_so(
    program: Program, imap_account: ImapAccount, replies: dict[str, object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fault injected: the IMAP server refuses the login (wrong password)."""
    monkeypatch.setenv(IMAP_PASSWORD_ENV, "not-the-password")
    _poll_fails(program, imap_account, replies, "refused the login",
                f"{imap_account.username!r}")


@pytest.mark.parametrize(("fault", "says"), [
    ("stall@0", "did not answer within 1 s"),
    ("stall@UID FETCH", "did not answer within 1 s during UID FETCH"),
    ("drop@SELECT", "closed the connection during SELECT"),
    ("no@SELECT", "refused SELECT INBOX"),
    ("no@LIST", "refused LIST"),
])
def test_imap_fault_mid_pass_poll_exits_1_saying_so(
    program: Program, imap_account: ImapAccount, replies: dict[str, object], fault: str,
    says: str,
) -> None:
    """Fault injected: the IMAP server stalls before its greeting or at UID FETCH, drops the
    connection at SELECT, or refuses SELECT or LIST with NO."""
    action, _, at = fault.partition("@")
    with FaultProxy(imap_account.host, imap_account.server.imap_port) as proxy:
        set_keys(program.config, "imap", port=proxy.port)
        proxy.arm(int(at) if at.isdigit() else at, action)  # type: ignore[arg-type]
        _poll_fails(program, imap_account, replies, says)


@pytest.mark.parametrize(("which", "says"), [
    ("self_signed", "self-signed certificate"),
    ("wrong_host", "mismatch, certificate is not valid for '127.0.0.1'"),
    ("expired", "certificate has expired"),
])
def test_imap_invalid_certificate_poll_exits_1_saying_so(
    program: Program, imap_account: ImapAccount, replies: dict[str, object],
    bad_certs: BadCerts, which: str, says: str,
) -> None:
    """Fault injected: the IMAP server (Dovecot behind a TLS front) presents a self-signed
    certificate not in the CA file, one for another host name, or an expired one."""
    with FaultProxy(imap_account.host, imap_account.server.imap_port,
                    tls=bad_certs.context(which)) as proxy:
        set_keys(program.config, "imap", port=proxy.port, security="tls",
                 ca_file=bad_certs.trusted_ca)
        _poll_fails(program, imap_account, replies,
                    "TLS certificate of IMAP server 127.0.0.1", says)


def test_imap_starttls_certificate_from_an_untrusted_ca_poll_exits_1(
    program: Program, imap_account: ImapAccount, replies: dict[str, object],
    bad_certs: BadCerts,
) -> None:
    """Fault injected: after STARTTLS, Dovecot's certificate is signed by a CA that is not
    the one in [imap].ca_file."""
    set_keys(program.config, "imap", security="starttls", ca_file=bad_certs.trusted_ca)
    _poll_fails(program, imap_account, replies, "TLS certificate of IMAP server",
                "unable to get local issuer certificate")
