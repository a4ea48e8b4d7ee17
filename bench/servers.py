"""The servers a benchmark run talks to: Postfix's smtp-sink and a throwaway Dovecot.

smtp-sink accepts and discards mail as fast as the network allows (never the
Postfix daemon). Dovecot is the tests' own throwaway instance
(tests/integration/dovecot.py, loaded by path), listening on 127.0.0.1 with TLS.
Mail is put into it with MULTIAPPEND + LITERAL+, a few thousand messages per
command, so Dovecot names the Maildir files itself (with their size fields).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
HOST = "127.0.0.1"


class BenchError(RuntimeError):
    """A server could not be started or refused what the benchmark asked."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise BenchError(f"{what} exited with {proc.returncode}: {err}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.05)
    raise BenchError(f"{what} did not listen on {HOST}:{port}")


@contextlib.contextmanager
def smtp_sink() -> Iterator[int]:
    """Run smtp-sink on a free loopback port; yields the port."""
    if not os.access(SMTP_SINK, os.X_OK):
        raise BenchError(f"{SMTP_SINK} not found (run scripts/install-system-deps.sh as root)")
    port = free_port()
    user = ["-u", "nobody"] if os.getuid() == 0 else []
    proc = subprocess.Popen([SMTP_SINK, *user, f"{HOST}:{port}", "1024"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        _wait_for_port(port, proc, "smtp-sink")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def smtp_source(port: int, count: int, size: int, sessions: int = 8) -> float:
    """Seconds smtp-source takes to send `count` messages of `size` body bytes
    over `sessions` parallel sessions, each reused for many messages (-d)."""
    cmd = [SMTP_SOURCE, "-d", "-s", str(sessions), "-m", str(count), "-l", str(size),
           "-f", "mentoring@lib.example", "-t", "someone@lib.example", f"{HOST}:{port}"]
    started = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise BenchError(f"smtp-source failed ({result.returncode}): {result.stderr}")
    return elapsed


def dovecot_module() -> ModuleType:
    """tests/integration/dovecot.py, imported by path (tests/ is not a package)."""
    path = REPO / "tests" / "integration" / "dovecot.py"
    spec = importlib.util.spec_from_file_location("mailflow_bench_dovecot", path)
    if spec is None or spec.loader is None:
        raise BenchError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def multiappend(host: str, port: int, username: str, password: str,
                messages: Iterable[bytes], folder: str = "INBOX", batch: int = 2000) -> int:
    """APPEND many messages per command (RFC 3502 MULTIAPPEND, RFC 7888 LITERAL+).

    Uses the plain port (the server allows it on loopback); returns the count.
    """
    count = 0
    with socket.create_connection((host, port), timeout=120) as sock:
        reader = sock.makefile("rb")
        _expect(reader, None)
        _command(sock, reader, b"l", f"LOGIN {username} {password}".encode())
        caps = _command(sock, reader, b"c", b"CAPABILITY")
        if b"MULTIAPPEND" not in caps or b"LITERAL+" not in caps:
            raise BenchError(f"Dovecot lacks MULTIAPPEND/LITERAL+: {caps!r}")
        _command(sock, reader, b"k", f'CREATE "{folder}"'.encode(), ok_only=False)
        pending: list[bytes] = []

        def flush(tag: int) -> None:
            parts = [f'APPEND "{folder}"'.encode()]
            parts += [b" () {%d+}\r\n" % len(raw) + raw for raw in pending]
            _command(sock, reader, f"a{tag}".encode(), b"".join(parts))

        for raw in messages:
            pending.append(raw)
            count += 1
            if len(pending) >= batch:
                flush(count)
                pending = []
        if pending:
            flush(count)
        _command(sock, reader, b"z", b"LOGOUT", ok_only=False)
    return count


def _command(sock: socket.socket, reader: object, tag: bytes, command: bytes, *,
             ok_only: bool = True) -> bytes:
    sock.sendall(tag + b" " + command + b"\r\n")
    return _expect(reader, tag, ok_only=ok_only)


def _expect(reader: object, tag: bytes | None, *, ok_only: bool = True) -> bytes:
    """Read lines up to the tagged response (or the greeting); all lines read."""
    seen = []
    while True:
        line = reader.readline()  # type: ignore[attr-defined]
        if not line:
            raise BenchError("the IMAP server closed the connection")
        seen.append(line)
        if tag is None or line.startswith(tag + b" "):
            break
    last = seen[-1]
    if ok_only and not re.match(rb"^(\S+ )?(\* )?OK", last):
        raise BenchError(f"IMAP refused: {last!r}")
    return b"".join(seen)
