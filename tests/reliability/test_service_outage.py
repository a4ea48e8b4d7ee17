"""Fault: the IMAP server goes away (refused or black-holed) while `mailflow run` is serving.

The service is a real process on an accelerated clock (60 program minutes = 3 s), polling
a real Dovecot through a TCP proxy that is then cut off for several `alert_after_minutes`.
The service must keep running, tell the coordinators once that polling is failing, once
that it recovered, and process the reply that arrived during the outage exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dovecot import IMAP_PASSWORD_ENV, ImapAccount
from faultkit import FaultProxy, message_id_of, set_keys
from programs import make_program
from smtp_server import RecordingSmtpServer

from mailflow.adapters.store import TinyDBStore
from mailflow.repository import Repository

ZONE = ZoneInfo("America/Chicago")
START = date(2027, 1, 4)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=ZONE)  # before the term: nothing else is due
SPEED = 1200.0  # alert_after_minutes = 60 -> 3 s of wall time
ROWS = ["A,Ann Mentor,ann@lib.example,Zoe Mentee,zoe@lib.example,Lia One,l1@lib.example,,,"]


def alerts(server: RecordingSmtpServer) -> Counter[str]:
    """Alert emails received, by subject ("mailflow problem: ..." / "mailflow recovered: ...")."""
    return Counter(str(m["Subject"]).split(":")[0] for m in (r.message() for r in server.messages)
                   if m["X-Mailflow-Kind"] == "alert")


def wait_for(condition: object, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} within {seconds} s\n{log.read_text()[-3000:]}")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["refuse", "stall"])
def test_imap_outage_service_keeps_running_alerts_once_then_recovered_once(
    tmp_path: Path, imap_account: ImapAccount, mode: str
) -> None:
    """Fault injected: every IMAP connection is refused (cut at once) or stalls (no greeting,
    a timeout) for about 4 x alert_after_minutes of program time, then the server is back."""
    env = {**os.environ, IMAP_PASSWORD_ENV: imap_account.password}
    with RecordingSmtpServer() as server, \
            FaultProxy(imap_account.host, imap_account.server.imap_port) as proxy:
        program = make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=server.port)
        set_keys(program.config, "imap", host=imap_account.host, port=proxy.port,
                 security="none", username=imap_account.username,
                 password_env=IMAP_PASSWORD_ENV, poll_seconds=0.3, timeout_seconds=1)
        set_keys(program.config, "schedule", alert_after_minutes=60)
        log = tmp_path / "service.log"
        with log.open("ab") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mailflow", "-c", str(program.config), "--now",
                 NOW.isoformat(), "run", "--speed", str(SPEED)],
                env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            wait_for(lambda: "poll pass done" in log.read_text(), 30, "no poll pass", log)
            proxy.outage(mode)  # type: ignore[arg-type]
            msg = EmailMessage()  # a check-in that arrives during the outage
            msg["From"], msg["To"] = "zoe@lib.example", "mentoring@lib.example"
            msg["Subject"], msg["Message-ID"] = "check-in", make_msgid(domain="client.example")
            msg["Date"] = format_datetime(NOW)
            msg.set_content("MET yesterday")
            imap_account.append([bytes(msg)])
            wait_for(lambda: alerts(server)["mailflow problem"] >= 1, 20, "no alert", log)
            time.sleep(9)  # three more alert_after periods of failing polls
            assert proc.poll() is None, log.read_text()[-3000:]
            assert alerts(server) == Counter({"mailflow problem": 1}), alerts(server)
            assert len(imap_account.messages("INBOX")) == 1  # kept until it can be processed
            proxy.outage(None)
            wait_for(lambda: alerts(server)["mailflow recovered"] >= 1, 20, "no recovery", log)
            wait_for(lambda: not imap_account.messages("INBOX"), 10, "reply not processed", log)
            time.sleep(2)
            assert alerts(server) == Counter({"mailflow problem": 1, "mailflow recovered": 1})
            assert proc.poll() is None
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
        assert code == 0, log.read_text()[-3000:]
    to = {str(m["To"]) for m in (r.message() for r in server.messages)
          if m["X-Mailflow-Kind"] == "alert"}
    assert to == {"committee@lib.example"}
    repo = Repository(TinyDBStore(program.config.parent / "mailflow.json", readonly=True))
    try:
        met = [e for e in repo.events() if e.message_id == message_id_of(bytes(msg))]
    finally:
        repo.close()
    assert [str(e.type) for e in met] == ["met"]
    failures = log.read_text().count("poll pass failed")
    print(f"{mode}: {failures} failed poll passes logged during the outage")
