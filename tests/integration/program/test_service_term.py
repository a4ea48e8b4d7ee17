"""`mailflow run` as a real process for a whole accelerated term, killed twice on the way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from dovecot import IMAP_PASSWORD_ENV, ImapAccount
from programs import imap_toml, make_program
from smtp_server import RecordingSmtpServer
from test_inbound_replies import reply_to

CHICAGO = ZoneInfo("America/Chicago")
START = date(2027, 1, 4)
ROWS = [
    "A,Ann Mentor,ann@lib.example,Zoë Ñúñez,zoe@lib.example,Lia One,l1@lib.example,,,",
    "B,Bob Mentor,bob@lib.example,Ben Mentee,ben@lib.example,Lia One,l1@lib.example,,,",
    "C,Cat Mentor,cat@lib.example,Cy Mentee,cy@lib.example,Lee Two,l2@lib.example,,,",
]
SPEED = 300_000.0  # a 9-month term in about 90 seconds
BEGIN = datetime(2027, 1, 3, 0, 0, tzinfo=CHICAGO)
END = datetime(2027, 10, 26, 0, 0, tzinfo=CHICAGO)  # a week past the feedback reminders
HELP_TEXT = "we keep cancelling, could you call us"


class Participants:
    """Read what the service delivers and answer like people would, into the IMAP inbox."""

    def __init__(self, server: RecordingSmtpServer, account: ImapAccount) -> None:
        self.server, self.account = server, account
        self.seen = 0
        self.replies: list[bytes] = []
        self.stop = threading.Event()
        self.escalation: EmailMessage | None = None
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def answer(self, msg: EmailMessage) -> bytes | None:
        kind, to = str(msg["X-Mailflow-Kind"]), str(msg["To"])
        if kind == "topic" and "ann@" in to:
            return reply_to(msg, "ann@lib.example", "MET today, talked about the month's topic")
        if kind == "intro" and "ben@" in to:
            return reply_to(msg, "ben@lib.example", f"HELP {HELP_TEXT}")
        if kind == "escalation" and "l1@" in to and HELP_TEXT in msg.get_body(
                ("plain",)).get_content():
            self.escalation = msg  # the liaison acts once the weekly digest reminds her
        if kind == "digest" and "l1@" in to and self.escalation is not None:
            escalation, self.escalation = self.escalation, None
            return reply_to(escalation, "l1@lib.example", "RESOLVED called them both")
        if kind == "feedback" and "zoe@" in to:
            return reply_to(msg, "zoe@lib.example", "The monthly topics were really useful.")
        return None

    def _loop(self) -> None:
        while not self.stop.is_set():
            messages = list(self.server.messages)
            for received in messages[self.seen:]:
                reply = self.answer(received.message())
                if reply is not None:
                    self.account.append([reply])
                    self.replies.append(reply)
            self.seen = len(messages)
            time.sleep(0.2)


def _start(config: Path, now: datetime, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "mailflow", "-c", str(config), "--now", now.isoformat(),
             "run", "--speed", str(SPEED), "--until", END.isoformat()],
            env=env, stdout=subprocess.DEVNULL, stderr=stderr,
        )


@pytest.mark.slow
def test_run_survives_two_sigkills_and_delivers_and_processes_everything_once(
    tmp_path: Path, imap_account: ImapAccount
) -> None:
    imap_account.settings()
    env = {**os.environ, IMAP_PASSWORD_ENV: imap_account.password}
    with RecordingSmtpServer() as server:
        toml = imap_toml(imap_account.host, imap_account.server.imaps_port,
                         imap_account.username, IMAP_PASSWORD_ENV, imap_account.ca_file,
                         poll_seconds=1)
        program = make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=server.port,
                               imap=toml)
        people = Participants(server, imap_account)
        people.thread.start()
        log = tmp_path / "service.log"
        now, wall = BEGIN, time.monotonic()
        proc = _start(program.config, now, env, log)
        for _ in range(2):
            time.sleep(25)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            now += timedelta(seconds=(time.monotonic() - wall) * SPEED)
            now -= timedelta(hours=12)  # restart a little in the past: nothing may repeat
            wall = time.monotonic()
            proc = _start(program.config, now, env, log)
        assert proc.wait(timeout=240) == 0, log.read_text()[-3000:]
        time.sleep(1)
        people.stop.set()
        people.thread.join()
        delivered = [r.message() for r in server.messages]

    ids = Counter(str(m["Message-ID"]) for m in delivered)
    kinds = Counter((str(m.get("X-Mailflow-Pair", "-")), str(m["X-Mailflow-Kind"]))
                    for m in {str(m["Message-ID"]): m for m in delivered}.values())
    # feedback: both emails, and a reminder to each who had not replied since (Zoë had)
    feedbacks = {"A": 3, "B": 4, "C": 4}
    for pair in "ABC":
        assert kinds[(pair, "intro")] == 2 and kinds[(pair, "topic")] == 14
        assert kinds[(pair, "closing")] == 2 and kinds[(pair, "feedback")] == feedbacks[pair]
        assert kinds[(pair, "midpoint")] == 2
    assert kinds[("-", "liaison_welcome")] == 2
    # a kill between the server's acceptance and the store's write may resend a message,
    # always under its own Message-ID; anything else is a double send
    resent = {mid: n for mid, n in ids.items() if n > 1}
    # each result is recorded as it comes: a kill can only catch the few in flight
    assert sum(n - 1 for n in resent.values()) <= 2 * 4, resent

    # every reply processed exactly once
    exported = subprocess.run(
        [sys.executable, "-m", "mailflow", "-c", str(program.config), "export", "events",
         "--format", "json"], capture_output=True, text=True, env=env, check=True)
    events = json.loads(exported.stdout)
    from email import message_from_bytes

    reply_ids = [str(message_from_bytes(r)["Message-ID"]) for r in people.replies]
    assert len(reply_ids) >= 7 + 1 + 1  # Ann's topics, Ben's HELP, the RESOLVED, ...
    per_message = Counter(e["message_id"] for e in events)
    for mid in reply_ids:
        assert per_message[mid] >= 1, f"reply {mid} was not processed"
    met = [e for e in events if e["type"] == "met"]
    assert len(met) == len({e["message_id"] for e in met}) == 7
    assert [e["type"] for e in events].count("help") == 1
    assert [e["type"] for e in events].count("resolved") == 1
    assert imap_account.messages("INBOX") == {}

    # the digests told the liaison what the reply asked for
    digests = [m for m in delivered if m["X-Mailflow-Kind"] == "digest" and "l1@" in str(m["To"])]
    assert any(HELP_TEXT in m.get_body(("plain",)).get_content() for m in digests)
