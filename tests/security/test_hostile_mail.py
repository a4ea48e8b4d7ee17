"""Hostile and broken mail: malformed MIME, wrong charsets, enormous headers, deep nesting,
zip-bomb-like encodings, CR/LF and NUL injection, invalid UTF-8.

Each case names the fault it injects. Whatever arrives, no exception escapes the poll, the
poll goes on with the next message, parsing stays bounded in time and memory, and a message
that cannot be handled is kept (moved, never deleted) and quarantined with its reason.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from dovecot import ImapAccount
from helpers import ROWS, START, events, program_on_servers, reply, sent_to
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from programs import Program, make_program
from smtp_server import RecordingSmtpServer

from mailflow.domain.model import EventType
from mailflow.domain.replies import parse_message
from mailflow.services.inbound import PROCESSED, QUARANTINED, Inbound
from mailflow.services.state import ProgramState

H = b"From: zoe@lib.example\r\nTo: mentoring@lib.example\r\n"
MB = 1024 * 1024


def _nested_multipart(depth: int) -> bytes:
    body = b"Content-Type: text/plain\r\n\r\nMET\r\n"
    for i in range(depth):
        b = b"b%d" % i
        body = (b"Content-Type: multipart/mixed; boundary=" + b + b"\r\n\r\n--" + b + b"\r\n"
                + body + b"\r\n--" + b + b"--\r\n")
    return H + b"Subject: nested\r\nMIME-Version: 1.0\r\n" + body


def _nested_rfc822(depth: int) -> bytes:
    body = b"Content-Type: text/plain\r\n\r\nMET\r\n"
    for _ in range(depth):
        body = b"Content-Type: message/rfc822\r\n\r\n" + H + b"Subject: fwd\r\n" + body
    return H + b"Subject: forwarded\r\n" + body


def _encoded(cte: bytes, body: bytes, ctype: bytes = b"text/plain") -> bytes:
    return (H + b"Subject: big\r\nMIME-Version: 1.0\r\nContent-Type: " + ctype
            + b"\r\nContent-Transfer-Encoding: " + cte + b"\r\n\r\n" + body)


# name (the fault injected) -> message. Builders, so a case costs memory only when used.
CORPUS: dict[str, Callable[[], bytes]] = {
    "empty message": lambda: b"",
    "binary garbage, no headers": lambda: b"\x00\xff\xfe\x80" * 1000,
    "NUL bytes in headers and body": lambda: (
        b"From: zoe@lib.example\x00\r\nSubject: M\x00ET\r\n\r\nMET\x00 today\r\n"),
    "invalid UTF-8 in headers and body": lambda: (
        b"From: Zo\xff\xfe <zoe@lib.example>\r\nSubject: \xc3\x28\xa0\xa1\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nMET \xed\xa0\x80 \xf4\x90\x80\x80\r\n"),
    "unknown charset": lambda: (H + b"Subject: x\r\nContent-Type: text/plain; charset=x-klingon"
                                b"\r\n\r\nMET\r\n"),
    "wrong charset label (latin-1 bytes called utf-16)": lambda: (
        H + b"Subject: x\r\nContent-Type: text/plain; charset=utf-16\r\n\r\nMET caf\xe9\r\n"),
    "encoded word with an unknown charset and broken base64": lambda: (
        b"From: =?x-unknown?b?!!!?= <zoe@lib.example>\r\nSubject: =?utf-8?b?w6k?=\r\n\r\nMET\r\n"),
    "CR/LF injected through encoded words": lambda: (
        b"From: =?utf-8?q?Zoe=0D=0ABcc=3A_x=40evil.example?= <zoe@lib.example>\r\n"
        b"Subject: =?utf-8?q?hi=0D=0AX-Injected=3A_yes=0D=0A=0D=0AHELP?=\r\n\r\nNOT MET\r\n"),
    "bare CR header separators": lambda: (
        b"From: zoe@lib.example\rBcc: x@evil.example\rSubject: x\r\r\nMET\r\n"),
    "1 MB Subject": lambda: H + b"Subject: " + b"x" * MB + b"\r\n\r\nMET\r\n",
    "1 MB Subject of encoded words": lambda: (
        H + b"Subject: " + b"=?utf-8?q?a?= " * (MB // 14) + b"\r\n\r\nMET\r\n"),
    "1 MB From header of 150,000 addresses": lambda: (
        b"From: " + b"a@b.example, " * 150_000 + b"\r\n\r\nMET\r\n"),
    "10,000 headers": lambda: (
        H + b"".join(b"X-H%d: v\r\n" % i for i in range(10_000)) + b"\r\nMET\r\n"),
    "5 MB header section": lambda: H + b"X-Pad: " + b"y" * (5 * MB) + b"\r\n\r\nMET\r\n",
    "500 nested multiparts": lambda: _nested_multipart(500),
    "5,000 nested multiparts": lambda: _nested_multipart(5000),
    "500 nested message/rfc822": lambda: _nested_rfc822(500),
    "multipart without boundary parameter": lambda: (
        H + b"Content-Type: multipart/mixed\r\n\r\n--x\r\nMET\r\n--x--\r\n"),
    "multipart whose boundary never appears": lambda: (
        H + b"Content-Type: multipart/mixed; boundary=zz\r\n\r\nMET\r\n"),
    "invalid base64": lambda: _encoded(b"base64", b"!!!! not base64 ====\r\n"),
    "30 MB of zeros as base64 (zip-bomb-like)": lambda: _encoded(
        b"base64", base64.encodebytes(b"\x00" * (30 * MB))),
    "20 MB quoted-printable line (=00 repeated)": lambda: _encoded(
        b"quoted-printable", b"=00" * (7 * MB)),
    "5 million soft line breaks": lambda: _encoded(b"quoted-printable", b"a=\r\n" * 5_000_000),
    "10 MB of unclosed HTML tags": lambda: _encoded(b"8bit", b"<div>" * (2 * MB), b"text/html"),
    "64,000 quoted lines": lambda: _encoded(b"7bit", b"> quoted\r\n" * 64_000),
}

# cases a person has to look at: only their headers are read
UNREADABLE = {"5 MB header section", "500 nested multiparts", "5,000 nested multiparts",
              "500 nested message/rfc822", "5 million soft line breaks"}


@pytest.fixture(scope="module")
def offline_program(tmp_path_factory: pytest.TempPathFactory) -> Program:
    """A program with a roster and no servers: `Inbound.handle` needs only the store."""
    folder = tmp_path_factory.mktemp("hostile") / "p"
    program = make_program(folder, start=START, rows=ROWS, smtp_port=1)
    program.at(START)
    return program


def _handle(program: Program, raw: bytes) -> tuple[str, str]:
    app = program.app()
    now = program.clock.now()
    with app.repository() as repo:
        state = ProgramState.load(repo, app.settings.program_model(), now)
        inbound = Inbound(app.settings, repo, state, now)
        with repo.transaction():
            handled = inbound.handle(raw)
    return handled.folder, handled.reason


@pytest.mark.parametrize("case", list(CORPUS))
def test_corpus_never_raises_and_quarantines_with_a_reason(
        offline_program: Program, case: str) -> None:
    raw = CORPUS[case]() + b"\r\nMessage-ID: <%d.hostile@test>" % hash(case)
    started = time.monotonic()
    folder, reason = _handle(offline_program, raw)
    elapsed = time.monotonic() - started
    assert folder in (PROCESSED, QUARANTINED)
    if folder == QUARANTINED:
        assert reason, f"{case}: quarantined without a reason"
    if case in UNREADABLE:
        assert folder == QUARANTINED and reason.startswith("unreadable: "), reason
    assert elapsed < 15, f"{case}: {elapsed:.1f}s to handle one message"


def test_injected_headers_never_become_headers() -> None:
    """CR/LF smuggled in encoded words: a From whose name decodes to a line break is not
    trusted (no sender, so the message is quarantined); no Bcc appears; the HELP smuggled
    into the Subject is never read as a keyword."""
    parsed = parse_message(CORPUS["CR/LF injected through encoded words"]())
    assert parsed.from_address == ""
    assert parsed.to_addresses == ()
    assert parsed.new_text == "NOT MET"


# --- memory and time, measured in a fresh process -------------------------------------------

_MEASURE = textwrap.dedent("""
    import json, sys, time, tracemalloc
    sys.path[:0] = [{here!r}, {here!r} + "/../integration", {here!r} + "/../integration/program"]
    from test_hostile_mail import CORPUS
    from mailflow.domain.replies import parse_message
    raw = CORPUS[sys.argv[1]]()
    tracemalloc.start()
    started = time.monotonic()
    parsed = parse_message(raw)
    elapsed = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    print(json.dumps({{"size": len(raw), "peak": peak, "seconds": elapsed,
                       "text": parsed.new_text[:40], "unreadable": parsed.unreadable}}))
""")

BIG = ["30 MB of zeros as base64 (zip-bomb-like)", "20 MB quoted-printable line (=00 repeated)",
       "5 million soft line breaks", "10 MB of unclosed HTML tags", "1 MB Subject of encoded words",
       "5,000 nested multiparts", "64,000 quoted lines", "1 MB From header of 150,000 addresses"]


def _measure(case: str) -> dict[str, object]:
    code = _MEASURE.format(here=str(Path(__file__).resolve().parent))
    done = subprocess.run([sys.executable, "-c", code, case], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parent)
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("case", BIG)
def test_memory_and_time_stay_bounded(case: str) -> None:
    """Peak memory of parsing (beyond the message itself) < 10x its size + 64 MB; < 20 s."""
    result = _measure(case)
    size, peak = int(str(result["size"])), int(str(result["peak"]))
    assert peak < 10 * size + 64 * MB, f"{case}: peak {peak / MB:.0f} MB for {size / MB:.1f} MB"
    assert float(str(result["seconds"])) < 20


def test_twenty_megabyte_attachment_still_works() -> None:
    """The bounds leave a 20 MB attachment (27 MB of base64) readable."""
    attachment = base64.encodebytes(bytes(range(256)) * (20 * MB // 256))
    raw = (H + b"Subject: report\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
           b"Content-Type: text/plain\r\n\r\nGOAL: read the attached report\r\n--XX\r\n"
           b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
           b"Content-Disposition: attachment; filename=r.pdf\r\n\r\n" + attachment + b"--XX--\r\n")
    parsed = parse_message(raw)
    assert parsed.unreadable == "" and parsed.new_text == "GOAL: read the attached report"


# --- property: any message, however broken, through Inbound.handle ------------------------------

_header_names = st.sampled_from([
    "From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References", "Date",
    "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Auto-Submitted",
    "Precedence", "Authentication-Results", "MIME-Version", "X-Weird",
])
_header_values = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([
        b"zoe@lib.example", b"Zoe <zoe@lib.example>", b"=?utf-8?q?a=0D=0AB?= <zoe@lib.example>",
        b"multipart/mixed; boundary=b", b"multipart/alternative; boundary=\"b\"",
        b"message/rfc822", b"text/plain; charset=x-unknown", b"text/html; charset=utf-16",
        b"base64", b"quoted-printable", b"auto-replied", b"mx; dmarc=fail",
        b"<a@b>\r\nBcc: x@evil.example", b"=?utf-8?b?!!!?=", b"\x00\r\n\r\n",
    ]),
)
_bodies = st.one_of(
    st.binary(max_size=2000),
    st.lists(st.sampled_from([
        b"--b", b"--b--", b"Content-Type: text/plain", b"Content-Type: multipart/mixed; "
        b"boundary=c", b"--c", b"Content-Transfer-Encoding: base64", b"", b"MET today",
        b"HELP", b"> quoted HELP", b"On Mon, Jan 4 wrote:", b"=00=FF=", b"<html><b>x",
    ]), max_size=40).map(b"\r\n".join),
)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    headers = draw(st.lists(st.tuples(_header_names, _header_values), max_size=12))
    head = b"".join(name.encode() + b": " + value + b"\r\n" for name, value in headers)
    separator = draw(st.sampled_from([b"\r\n", b"\n", b"", b"\r"]))
    return head + separator + draw(_bodies)


def test_any_message_is_handled_or_quarantined_never_raised(offline_program: Program) -> None:
    """Property (hypothesis, 200 derandomised examples): `Inbound.handle` on arbitrary bytes
    shaped like mail returns processed or quarantined-with-a-reason, and the store commits."""
    app = offline_program.app()
    now = offline_program.clock.now()
    with app.repository() as repo:
        state = ProgramState.load(repo, app.settings.program_model(), now)
        inbound = Inbound(app.settings, repo, state, now)

        @settings(max_examples=200, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(messages())
        def check(raw: bytes) -> None:
            with repo.transaction():  # a value the store cannot write would raise here
                handled = inbound.handle(raw)
            assert handled.folder in (PROCESSED, QUARANTINED)
            assert handled.folder == PROCESSED or handled.reason

        check()
    with app.repository(readonly=True) as repo:  # and the store still loads
        assert repo.events() is not None


# --- the real poll, through Dovecot --------------------------------------------------------------

POLLED = ["NUL bytes in headers and body", "invalid UTF-8 in headers and body",
          "CR/LF injected through encoded words", "1 MB Subject", "10,000 headers",
          "500 nested multiparts", "500 nested message/rfc822", "unknown charset",
          "30 MB of zeros as base64 (zip-bomb-like)", "64,000 quoted lines"]


def test_hostile_mail_through_the_real_poll(
        tmp_path: Path, smtp_server: RecordingSmtpServer, imap_account: ImapAccount) -> None:
    """A representative subset, with a genuine reply between them, appended to Dovecot: one
    poll handles every message, moves each (none is deleted), and still records the MET."""
    program = program_on_servers(tmp_path / "p", smtp_server, imap_account)
    intro = sent_to(smtp_server, "zoe@lib.example", "intro")
    genuine = reply(intro, "Zoë <zoe@lib.example>", "MET yesterday, good talk")
    batch = [CORPUS[name]() for name in POLLED]
    batch.insert(len(batch) // 2, genuine)
    imap_account.append(batch)
    del batch
    report, _ = program.poll()
    assert report.connection_error == ""
    assert report.handled == len(POLLED) + 1
    assert imap_account.messages("INBOX") == {}
    kept = len(imap_account.messages("Processed")) + len(imap_account.messages("Quarantine"))
    assert kept == len(POLLED) + 1
    assert all(reason for _, reason in report.quarantined)
    reasons = " | ".join(reason for _, reason in report.quarantined)
    assert "unreadable: message has 500 multipart" in reasons
    genuine_id = parse_message(genuine).message_id
    mets = [e for e in events(program) if e.type == EventType.MET
            and e.message_id == genuine_id]
    assert [(e.pair_id, e.person) for e in mets] == [("A", "zoe@lib.example")]
    # a second poll has nothing left to do
    again, _ = program.poll()
    assert again.handled == 0 and again.connection_error == ""

