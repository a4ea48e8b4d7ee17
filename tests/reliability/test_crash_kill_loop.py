"""Fault: SIGKILL of `mailflow run`, 100+ times, at random moments inside send and poll passes.

A 3-month term runs as a real `mailflow run --speed` process against a recording SMTP
server and a real Dovecot (reached through a pass-through TCP proxy that sees the IMAP
commands). Simulated participants answer what they receive, into the inbox. Each
process is SIGKILLed, then restarted with `--now` at the program time it had reached
(clamped a few days before the end, so the last days are replayed by many restarts).
Each kill picks at random (fixed seed, printed) one of:

- ``time``: 0.05-1.5 s (log-uniform) after the service says it is running;
- ``smtp``: right after the SMTP server accepted the 1st-3rd message of this process
  (between the server's acceptance and the store's write), 0-20 ms late;
- ``imap``: when a poll session sends SELECT, UID SEARCH, UID FETCH or UID MOVE,
  0-20 ms late (before, during or after the effects are stored and the messages moved);

falling back to ``time`` when the event does not come first. Then:

- every email due in the term was delivered; a Message-ID delivered twice only where
  the process that delivered the first copy was killed before the next copy (the kill
  fell between the server's acceptance and the store's write), and never twice by one
  process;
- every mail the outbox says is `sent` reached the server, and nothing else did;
- every reply was processed exactly once: its events (per incoming Message-ID) are
  exactly what its keywords call for, it is in the Processed folder once, the inbox
  and quarantine are empty, and its sender got exactly one ack;
- the store loads (`mailflow status --json` works).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dovecot import IMAP_PASSWORD_ENV, ImapAccount
from faultkit import FaultProxy, cli, message_id_of, reply, set_keys
from programs import make_program
from smtp_server import Received, RecordingSmtpServer

SEED = int(os.environ.get("MAILFLOW_CRASH_SEED", "7121"))
KILLS = int(os.environ.get("MAILFLOW_CRASH_KILLS", "120"))
WEB_KILLS = int(os.environ.get("MAILFLOW_CRASH_WEB_KILLS", "30"))
SPEED = float(os.environ.get("MAILFLOW_CRASH_SPEED", "260000"))
KILL_AFTER = (0.05, 1.5)  # seconds after the service reports it is running (log-uniform)
IMAP_MOMENTS = ("SELECT", "UID SEARCH", "UID FETCH", "UID MOVE")

ZONE = ZoneInfo("America/Chicago")
START = date(2027, 1, 4)
BEGIN = datetime(2027, 1, 3, 0, 0, tzinfo=ZONE)
END = datetime(2027, 4, 12, 0, 0, tzinfo=ZONE)
REPLAY_FROM = END - timedelta(days=3)  # restarts never go later than this
PAIRS = "ABCDE"
ROWS = [f"{p},Mentor {p},mentor{p.lower()}@lib.example,Mentee {p},mentee{p.lower()}@lib.example,"
        f"Liaison {i % 2},liaison{i % 2}@lib.example,,,"
        for i, p in enumerate(PAIRS)]
ROLES = {f"mentor{p.lower()}@lib.example": ("mentor", p) for p in PAIRS} | {
    f"mentee{p.lower()}@lib.example": ("mentee", p) for p in PAIRS}


def answer(kind: str, role: str, pair: str) -> tuple[str, Counter[str]] | None:
    """What a participant replies to an email of this kind, and the events it must make."""
    if kind == "intro":
        return (("MET yesterday\nGOAL learn cataloguing", Counter(met=1, goal=1))
                if role == "mentee" else ("GOAL share grant writing", Counter(goal=1)))
    if kind in ("topic", "nudge") and role == "mentee":
        return "MET today, we talked about conferences", Counter(met=1)
    if kind == "topic" and pair == "A":
        return "HELP we keep missing each other", Counter(help=1)
    if kind == "topic":
        return "NOT MET busy month", Counter(not_met=1)
    if kind == "closing" and role == "mentee":
        return "MET today", Counter(met=1)
    if kind == "feedback":
        return "The monthly topics were really useful.", Counter(feedback=1)
    return None


@dataclass
class Participants:
    """Read what is delivered (each Message-ID once) and answer into the IMAP inbox."""

    server: RecordingSmtpServer
    account: ImapAccount
    expected: dict[str, tuple[str, Counter[str]]] = field(default_factory=dict)
    raw: list[bytes] = field(default_factory=list)
    answered: set[str] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._loop, daemon=True, name="participants")

    def _loop(self) -> None:
        seen = 0
        while not self.stop.is_set():
            try:
                received = list(self.server.messages)
                for item in received[seen:]:
                    self._answer(item.message())
                seen = len(received)
            except BaseException as exc:  # surfaced by the test
                self.errors.append(exc)
                return
            time.sleep(0.1)

    def _answer(self, msg: EmailMessage) -> None:
        mid, to = str(msg["Message-ID"]), str(msg["To"])
        address = re.search(r"[\w.+-]+@[\w.-]+", to)
        if mid in self.answered or address is None or address.group(0) not in ROLES:
            return
        self.answered.add(mid)
        role, pair = ROLES[address.group(0)]
        planned = answer(str(msg["X-Mailflow-Kind"]), role, pair)
        if planned is None:
            return
        raw = reply(msg, address.group(0), planned[0])
        self.account.append([raw])
        self.raw.append(raw)
        self.expected[message_id_of(raw)] = (address.group(0), planned[1])


class TimedSmtpServer(RecordingSmtpServer):
    """Also notes when each session opened (so a delivery is traced to the process that
    opened its connection) and can wake the test after the Nth acceptance."""

    def __init__(self) -> None:
        super().__init__()
        self.opened_at: dict[int, float] = {}
        self.trigger: tuple[int, threading.Event] | None = None

    def _opened(self) -> int:
        number = super()._opened()
        self.opened_at[number] = time.monotonic()
        return number

    def _record(self, target: list[Received], *args: Any) -> None:
        super()._record(target, *args)
        trigger = self.trigger
        if target is self.messages and trigger is not None:
            count, event = trigger
            self.trigger = (count - 1, event) if count > 1 else None
            if count <= 1:
                event.set()


@dataclass
class Epoch:
    """One `mailflow` process: when it ran and whether it was SIGKILLed."""

    started: float
    ended: float = math.inf
    killed: bool = False


RUNNING = re.compile(r"mailflow running: .* clock at (\S+),")


def _start(config: Path, now: datetime, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "mailflow", "-c", str(config), "--now", now.isoformat(),
             "run", "--speed", str(SPEED), "--until", END.isoformat()],
            env=env, stdout=subprocess.DEVNULL, stderr=stderr)


def _wait_running(proc: subprocess.Popen[bytes], log: Path, offset: int) -> datetime | None:
    """The program time the service started at, once it logs that it runs (None: it exited)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with log.open("rb") as fh:
            fh.seek(offset)
            match = RUNNING.search(fh.read().decode("utf-8", "replace"))
        if match:
            return datetime.fromisoformat(match.group(1))
        if proc.poll() is not None:
            return None
        time.sleep(0.01)
    raise AssertionError("the service did not start within 60 s:\n" + log.read_text()[-3000:])


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_sigkill_at_random_points_of_send_and_poll_loses_and_repeats_nothing(
    tmp_path: Path, imap_account: ImapAccount
) -> None:
    """Fault injected: SIGKILL of `mailflow run` 100+ times, at random moments of its passes."""
    _kill_loop(tmp_path, imap_account, KILLS, min_each=KILLS // 10)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigkill_with_the_web_console_serving_loses_and_repeats_nothing(
    tmp_path: Path, imap_account: ImapAccount
) -> None:
    """The same, with `[web].enabled = true`: the console answers in every process (in the
    scheduler's event loop) while it is killed, and the term still loses nothing."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    _kill_loop(tmp_path, imap_account, WEB_KILLS, min_each=2, web_port=port)


class WebVisitor:
    """A coordinator on the console all along, opening pages that read the store,
    through every process and kill. Signs in first, on `mailflow web` (the session
    is kept beside the store, so it holds in every later process)."""

    def __init__(self, port: int) -> None:
        import httpx

        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)
        self.answered = Counter[int]()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="web visitor")

    def sign_in(self, config: Path, server: RecordingSmtpServer, env: dict[str, str]) -> None:
        import httpx

        proc = subprocess.Popen([sys.executable, "-m", "mailflow", "-c", str(config), "web"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            csrf = re.compile(r'name="csrf_token" value="([^"]+)"')
            deadline = time.monotonic() + 30
            while True:
                try:
                    form = self.client.get("/login")
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline and proc.poll() is None
                    time.sleep(0.05)
            self.client.post("/login", data={"email": "committee@lib.example",
                                             "csrf_token": csrf.search(form.text).group(1)})
            item = server.wait_for(1)[0]
            assert item.message()["X-Mailflow-Kind"] == "login"
            body = item.message().get_body(("plain",))
            link = re.search(r"/login/[0-9a-f]+", body.get_content()).group(0)
            page = self.client.get(link)
            signed = self.client.post(link, data={"csrf_token": csrf.search(page.text).group(1)})
            assert signed.status_code == 303, signed.text
        finally:
            proc.terminate()
            proc.wait(30)
        server.messages.clear()  # the sign-in email is not program mail

    def _run(self) -> None:
        import httpx

        while not self.stop.is_set():
            for path in ("/", "/api/status", "/pairs/A", "/escalations"):
                with suppress(httpx.HTTPError):  # between processes: nothing listens
                    self.answered[self.client.get(path).status_code] += 1
                time.sleep(0.05)  # a busy person, clicking 20 times a second
        self.client.close()


def _kill_loop(tmp_path: Path, imap_account: ImapAccount, total: int, *, min_each: int,
               web_port: int | None = None) -> None:
    print(f"crash test: seed={SEED} kills={total} speed={SPEED} web={web_port}")
    rng = random.Random(SEED)
    env = {**os.environ, IMAP_PASSWORD_ENV: imap_account.password}
    began = time.monotonic()
    imap_trigger: list[tuple[str, threading.Event]] = []

    def on_command(verbs: list[str], verb: str) -> None:
        if imap_trigger and "LIST" in verbs and verb == imap_trigger[0][0]:
            imap_trigger.pop()[1].set()

    with TimedSmtpServer() as server, FaultProxy(
            imap_account.host, imap_account.server.imap_port, on_command=on_command) as proxy:
        server.delay = 0.01  # a little time between a message's DATA and its acceptance
        program = make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=server.port,
                               months=3)
        set_keys(program.config, "imap", host=imap_account.host, port=proxy.port,
                 security="none", username=imap_account.username,
                 password_env=IMAP_PASSWORD_ENV, poll_seconds=0.5, timeout_seconds=5,
                 batch_size=3)
        # every weekly digest is sent, as before digest_when existed: the loop needs that much
        # SMTP traffic to land its kills inside SMTP transactions
        set_keys(program.config, "schedule", digest_when="always")
        visitor = None
        if web_port is not None:
            set_keys(program.config, "web", enabled=True, port=web_port)
            visitor = WebVisitor(web_port)
            visitor.sign_in(program.config, server, env)
            visitor.thread.start()
        people = Participants(server, imap_account)
        people.thread.start()
        log = tmp_path / "service.log"
        log.touch()
        epochs: list[Epoch] = []
        kills = Counter[str]()
        now = BEGIN
        while sum(e.killed for e in epochs) < total:
            offset = log.stat().st_size
            epoch = Epoch(time.monotonic())
            epochs.append(epoch)
            mode = rng.choices(("time", "smtp", "imap"), weights=(1, 6, 3))[0]
            event = threading.Event()
            if mode == "smtp":
                server.trigger = (rng.randint(1, 3), event)
            elif mode == "imap":
                imap_trigger[:] = [(rng.choice(IMAP_MOMENTS), event)]
            proc = _start(program.config, now, env, log)
            clock_at = _wait_running(proc, log, offset)
            seen_at = time.monotonic()
            if clock_at is not None and event.wait(
                    math.exp(rng.uniform(*map(math.log, KILL_AFTER)))):
                time.sleep(rng.uniform(0, 0.02))
            else:
                mode = "time"
            server.trigger, imap_trigger[:] = None, []
            if proc.poll() is None:
                kills[mode] += 1
                kills["with an SMTP session open"] += server.open_sessions > 0
                kills["with a poll session open"] += any(
                    "LIST" in verbs for verbs in proxy.open_connections())
                killed_at = time.monotonic()
                proc.send_signal(signal.SIGKILL)
                epoch.killed = True
                assert clock_at is not None
                now = clock_at + timedelta(seconds=(killed_at - seen_at) * SPEED)
                now = min(now, REPLAY_FROM)
            proc.wait()
            epoch.ended = time.monotonic()
            assert proc.returncode in (0, -signal.SIGKILL), log.read_text()[-3000:]
        kill_phase = time.monotonic() - began
        print(f"{len(epochs)} processes, {sum(e.killed for e in epochs)} SIGKILLed in "
              f"{kill_phase:.0f} s; program time reached {now.isoformat()}; kills: "
              f"{dict(kills)}")
        assert min(kills["smtp"], kills["imap"]) >= min_each, kills

        # the rest of the term without faults, then one pass of each to drain what is left
        epochs.append(Epoch(time.monotonic()))
        proc = _start(program.config, now, env, log)
        assert proc.wait(timeout=120) == 0, log.read_text()[-3000:]
        time.sleep(1.0)  # the participants' last replies
        people.stop.set()
        people.thread.join()
        if visitor is not None:
            visitor.stop.set()
            visitor.thread.join()
            print(f"web console answers while the processes ran: {dict(visitor.answered)}")
            assert visitor.answered[200] > 4 * total, visitor.answered
            assert set(visitor.answered) == {200}, visitor.answered
        for command in ("poll", "send-due"):
            done = cli(program.config, command, now=END.isoformat(), env=env)
            assert done.returncode == 0, done.stdout + done.stderr
        epochs[-1].ended = time.monotonic()
        delivered = list(server.messages)
        print(f"whole test: {time.monotonic() - began:.0f} s")
    assert not people.errors, people.errors
    _check(program.config, env, epochs, delivered, people, imap_account, server.opened_at)


def _export(config: Path, what: str, env: dict[str, str]) -> list[dict[str, object]]:
    done = cli(config, "export", what, "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, object]] = json.loads(done.stdout)
    return rows


def _epoch_of(epochs: list[Epoch], at: float) -> int:
    for index, epoch in enumerate(epochs):
        if epoch.started <= at <= epoch.ended:
            return index
    raise AssertionError(f"a session was opened while no mailflow process ran ({at})")


def _check(config: Path, env: dict[str, str], epochs: list[Epoch], delivered: list[Received],
           people: Participants, account: ImapAccount, opened_at: dict[int, float]) -> None:
    # the store loads
    status = cli(config, "status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    assert len(json.loads(status.stdout)["pairs"]) == len(PAIRS)

    outbox = _export(config, "outbox", env)
    by_id = {str(e["message_id"]): e for e in outbox}
    copies: dict[str, list[int]] = {}  # Message-ID -> the process that sent each copy
    for item in delivered:
        copies.setdefault(str(item.message()["Message-ID"]), []).append(
            _epoch_of(epochs, opened_at[item.session]))

    # never marked sent unless the server has it; nothing delivered that is not in the outbox
    sent = {mid for mid, e in by_id.items() if e["status"] == "sent"}
    assert sent == set(copies), (sent ^ set(copies))
    # every email due in the term was delivered
    due = [e for e in outbox if datetime.fromisoformat(str(e["due_at"])) <= END
           # a digest with nothing to say is recorded as skipped (digest_when = "attention")
           and not (e["kind"] == "digest" and e["status"] == "skipped")]
    assert {str(e["status"]) for e in due} == {"sent"}, [
        (e["key"], e["status"], e["error"]) for e in due if e["status"] != "sent"]
    kinds = Counter((str(e["pair_id"]), str(e["kind"])) for e in due)
    for pair in PAIRS:
        for kind in ("intro", "topic", "closing", "feedback"):
            assert kinds[(pair, kind)] == 2, (pair, kind, kinds)
    assert sum(n for (_, kind), n in kinds.items() if kind == "liaison_welcome") == 2
    assert sum(n for (_, kind), n in kinds.items() if kind == "escalation") == 1

    # a second copy only after the process that delivered the first one was killed
    duplicates = 0
    for mid, runs in copies.items():
        for first, second in itertools.pairwise(runs):
            assert second > first and epochs[first].killed, (mid, runs)
            duplicates += 1
    print(f"{len(delivered)} deliveries of {len(copies)} Message-IDs; {duplicates} second "
          "copies, each after a SIGKILL")

    # every reply processed exactly once
    events = _export(config, "events", env)
    per_message: dict[str, Counter[str]] = {}
    for event in events:
        per_message.setdefault(str(event["message_id"]), Counter())[str(event["type"])] += 1
    assert len(people.expected) >= 4 * len(PAIRS)
    for mid, (_sender, wanted) in people.expected.items():
        assert per_message.get(mid) == wanted, (mid, per_message.get(mid), wanted)
    assert set(per_message) == set(people.expected), set(per_message) - set(people.expected)
    processed = Counter(message_id_of(raw) for raw, _ in account.messages("Processed").values())
    assert processed == Counter(people.expected.keys())
    assert account.messages("INBOX") == {}
    assert account.messages("Quarantine") == {}
    acks = Counter(str(e["person"]) for e in outbox if e["kind"] == "ack")
    assert acks == Counter(sender for sender, _ in people.expected.values())
    print(f"{len(people.expected)} replies, each processed once")
