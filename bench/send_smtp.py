"""Send rate of mailflow's SmtpSender, as a ratio to a reused smtplib connection.

    .venv/bin/python bench/send_smtp.py [N] [--connections 1,8]

Starts Postfix's ``smtp-sink`` (a fast discard server; ``apt-get install postfix``
provides /usr/sbin/smtp-sink -- the Postfix daemon is never started) on a free
loopback port, falling back to an in-process aiosmtpd sink when it is absent.
Sends N (default 10,000) small multipart/alternative messages (text + HTML,
UTF-8) with one reused ``smtplib.SMTP`` connection and ``send_message`` (the
reference), then the same messages as mailflow composes them (`OutgoingMessage`,
render/mime.py) with ``SmtpSender.send_many`` at each ``max_connections``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mailflow.adapters.smtp import SmtpSender  # noqa: E402
from mailflow.config import SmtpSettings  # noqa: E402
from mailflow.render.mime import OutgoingMessage, RenderedEmail, build_message  # noqa: E402

HOST = "127.0.0.1"
SENDER = "committee@example.org"


def _text(i: int) -> str:
    return (
        f"Hello Zoë,\n\nThis month's topic is goal setting (#{i}).\n"
        "Reply MET when you have met, or HELP if you need a hand.\n\n— The committee\n"
    )


def make_outgoing(i: int) -> OutgoingMessage:
    """The same message as mailflow composes it."""
    text = _text(i)
    return build_message(
        RenderedEmail(f"Month {i % 9 + 1}: your discussion topic", text,
                      f"<html><body><p>{text}</p></body></html>"),
        sender=f"Mentoring Committee <{SENDER}>", to=f"mentee{i}@example.org",
        to_name="Zoë Müller", reply_to=SENDER, message_id=f"<bench-{i}@mailflow.test>",
        kind="topic", pair_id=None, date=datetime.now(UTC),
    )


def make_message(i: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = Address("Mentoring Committee", addr_spec=SENDER)
    message["To"] = Address("Zoë Müller", addr_spec=f"mentee{i}@example.org")
    message["Subject"] = f"Month {i % 9 + 1}: your discussion topic"
    message["Message-ID"] = f"<bench-{i}@mailflow.test>"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Mailflow-Kind"] = "topic"
    text = _text(i)
    message.set_content(text)
    message.add_alternative(f"<html><body><p>{text}</p></body></html>", subtype="html")
    return message


# --- sinks --------------------------------------------------------------------------


def fresh(n: int) -> list[EmailMessage]:
    """New message objects (serialising sets a boundary on them, so never reuse)."""
    return [make_message(i) for i in range(n)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=1.0) as sock:
                sock.recv(100)  # the greeting
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def smtp_sink() -> Iterator[tuple[int, str]]:
    binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if os.path.exists(binary):
        port = free_port()
        command = [binary]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]  # required when run as root
        command += [f"{HOST}:{port}", "1000"]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_listening(port)
            yield port, f"Postfix smtp-sink ({binary})"
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)
        return
    from aiosmtpd.controller import Controller

    class Discard:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    port = free_port()
    controller = Controller(Discard(), hostname=HOST, port=port)
    controller.start()
    try:
        yield port, "aiosmtpd in-process sink (NOTE: smtp-sink not found; install postfix)"
    finally:
        controller.stop()


# --- the two clients ---------------------------------------------------------------------


def sender_run(port: int, n: int, connections: int) -> Timing:
    return asyncio.run(run_sender(port, [make_outgoing(i) for i in range(n)], connections))


Timing = tuple[float, float]  # (wall seconds, client CPU seconds)


def run_smtplib(port: int, messages: list[EmailMessage]) -> Timing:
    started, cpu = time.perf_counter(), time.process_time()
    with smtplib.SMTP(HOST, port, timeout=30) as client:
        for message in messages:
            client.send_message(message, SENDER, [str(message["To"].addresses[0].addr_spec)])
    return time.perf_counter() - started, time.process_time() - cpu


async def run_sender(port: int, messages: list[OutgoingMessage], connections: int) -> Timing:
    settings = SmtpSettings(
        host=HOST, port=port, security="none", max_connections=connections, timeout_seconds=30
    )
    items = ((i, m, [f"mentee{i}@example.org"]) for i, m in enumerate(messages))
    failures = 0
    started, cpu = time.perf_counter(), time.process_time()
    async with SmtpSender(settings) as sender:
        async for _key, error in sender.send_many(items):
            failures += error is not None
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if failures:
        raise SystemExit(f"{failures} messages failed")
    return elapsed, cpu


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=10_000)
    parser.add_argument("--connections", default="1,8", help="max_connections values")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    best: dict[str, float] = {}
    cpu_per_message: dict[str, float] = {}  # client CPU (this process) in the best run
    with smtp_sink() as (port, sink):
        print(f"sink: {sink} on {HOST}:{port}; N={args.n}; python {sys.version.split()[0]}")
        print(f"best of {args.rounds} interleaved rounds (each client sends all N per round)")
        for _ in range(args.rounds):
            runs: dict[str, Callable[[], Timing]] = {
                "smtplib": lambda: run_smtplib(port, fresh(args.n))
            }
            for c in connections:
                runs[f"sender{c}"] = functools.partial(sender_run, port, args.n, c)
            for name, run in runs.items():
                elapsed, cpu = run()
                if args.n / elapsed > best.get(name, 0.0):
                    best[name], cpu_per_message[name] = args.n / elapsed, cpu / args.n
    reference = best["smtplib"]
    print(
        f"  smtplib, one reused connection  : {reference:6.0f} msg/s"
        f"             client CPU {cpu_per_message['smtplib'] * 1e6:5.0f} us/msg"
    )
    for c in connections:
        rate = best[f"sender{c}"]
        print(
            f"  SmtpSender max_connections={c:<2}   : {rate:6.0f} msg/s"
            f"  ratio {rate / reference:4.2f}"
            f"  client CPU {cpu_per_message[f'sender{c}'] * 1e6:5.0f} us/msg"
        )


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
