"""Real faults on real connections, for the reliability tests.

- ``FaultProxy``: a TCP proxy (its own event loop in a thread) between mailflow and a
  real SMTP or IMAP server. It counts the client's commands (one per line; an SMTP
  message body counts once, as its final ``.``) and, armed, injects one fault at the
  Nth command: ``drop`` (cut both ways before the command reaches the server),
  ``stall`` (nothing moves any more, the sockets stay open), ``lose_reply`` (the
  server gets the command, its answer is cut off), ``cut_reply`` (only the first
  ``keep`` bytes of the answer get through, e.g. mid-FETCH literal) and ``no``
  (the proxy answers an IMAP ``NO`` itself). ``outage("refuse"|"stall")`` cuts every
  open connection and refuses or black-holes new ones until ``outage(None)``.
- ``make_bad_certs``: a self-signed certificate, one for the wrong host name and an
  expired one, with the openssl CLI.
- ``reply``: a reply as a mail program writes it, threaded to what mailflow sent.
- ``cli``: ``python -m mailflow`` as a subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parsedate_to_datetime
from pathlib import Path
from typing import Literal

HOST = "127.0.0.1"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
Action = Literal["drop", "stall", "lose_reply", "cut_reply", "no"]


@dataclass(eq=False)
class _Conn:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter | None = None
    stalled: bool = False
    cut_after: int | None = None  # bytes of the server's answer still let through
    data_mode: bool = False
    verbs: list[str] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.server):
            if writer is not None:
                writer.transport.abort()


@dataclass
class _Armed:
    at: int
    action: Action
    keep: int = 0
    verb: str | None = None


@dataclass
class FaultProxy:
    """``with FaultProxy(host, port, protocol="imap") as proxy: proxy.arm(5, "drop")``."""

    target_host: str
    target_port: int
    protocol: Literal["smtp", "imap"] = "imap"
    tls: ssl.SSLContext | None = None  # present this certificate to the client
    # called on the proxy's thread with (the connection's commands so far, this command)
    on_command: Callable[[list[str], str], None] | None = None
    commands: list[str] = field(default_factory=list)  # every command seen, its verb
    fired: list[str] = field(default_factory=list)  # "action@n VERB" for each fault injected
    connections: int = 0
    _armed: _Armed | None = None
    _outage: Literal["refuse", "stall"] | None = None
    _conns: set[_Conn] = field(default_factory=set)
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.Server | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    # --- control (any thread) ----------------------------------------------------------

    def arm(self, at: int | str, action: Action, *, keep: int = 0) -> None:
        """Inject ``action`` at the ``at``-th command from now (1 = the next one; 0 = on
        connecting, before the server's greeting reaches the client), or at the next
        command whose verb is ``at`` (e.g. ``"UID FETCH"``)."""
        with self._lock:
            if isinstance(at, str):
                self._armed = _Armed(-1, action, keep, verb=at)
            else:
                self._armed = _Armed(len(self.commands) + at, action, keep)

    def open_connections(self) -> list[list[str]]:
        """The commands of each connection open right now."""
        return [list(conn.verbs) for conn in list(self._conns)]

    def outage(self, mode: Literal["refuse", "stall"] | None) -> None:
        self._outage = mode
        if mode is not None:
            self._call(self._abort_all)

    # --- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> FaultProxy:
        self._loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, HOST, 0, ssl=self.tls))
            self.port = self._server.sockets[0].getsockname()[1]
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="fault-proxy")
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        loop = self._loop
        assert loop is not None and self._thread is not None

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            self._abort_all()
            await asyncio.sleep(0.05)
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        loop.close()

    def _call(self, func: object) -> None:
        if self._loop is not None and callable(func):
            self._loop.call_soon_threadsafe(func)

    def _abort_all(self) -> None:
        for conn in list(self._conns):
            conn.abort()

    # --- the proxy --------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn = _Conn(writer)
        self._conns.add(conn)
        try:
            if self._outage == "refuse":
                return
            if self._outage == "stall" or self._take(0, conn, "(connect)") in ("stall",):
                conn.stalled = True
                await _drain_until_eof(reader)
                return
            if conn.cut_after is not None:  # "drop" at 0
                return
            try:
                s_reader, conn.server = await asyncio.open_connection(
                    self.target_host, self.target_port)
            except OSError:
                return
            down = asyncio.create_task(self._downstream(s_reader, conn))
            try:
                await self._upstream(reader, conn)
            finally:
                conn.abort()  # the client hung up (or the fault cut it): end both sides
                await asyncio.gather(down, return_exceptions=True)
        finally:
            conn.abort()
            self._conns.discard(conn)

    def _take(self, number: int, conn: _Conn, verb: str) -> Action | None:
        with self._lock:
            armed = self._armed
            if armed is None or (armed.at != number if armed.verb is None
                                 else armed.verb != verb):
                return None
            self._armed = None
        self.fired.append(f"{armed.action}@{number} {verb}")
        if armed.action in ("drop", "lose_reply"):
            conn.cut_after = 0
        elif armed.action == "cut_reply":
            conn.cut_after = armed.keep
        return armed.action

    async def _upstream(self, reader: asyncio.StreamReader, conn: _Conn) -> None:
        assert conn.server is not None
        while True:
            try:
                line = await reader.readline()
            except (ConnectionError, ValueError):  # reset by the client; a line over 64 KiB
                return
            if not line:
                return
            if conn.stalled:
                continue  # read and forget: nothing moves
            if self.protocol == "smtp" and conn.data_mode and line not in (b".\r\n", b".\n"):
                conn.server.write(line)
                continue
            verb = self._verb(line, conn)
            self.commands.append(verb)
            conn.verbs.append(verb)
            if self.on_command is not None:
                self.on_command(conn.verbs, verb)
            action = self._take(len(self.commands), conn, verb)
            if action == "drop":
                return
            if action == "stall":
                conn.stalled = True
                continue
            if action == "no":
                tag = line.split(b" ", 1)[0]
                conn.client.write(tag + b" NO [UNAVAILABLE] injected failure, try later\r\n")
                continue
            conn.server.write(line)
            with contextlib.suppress(ConnectionError):
                await conn.server.drain()

    def _verb(self, line: bytes, conn: _Conn) -> str:
        words = line.decode("utf-8", "replace").split()
        if self.protocol == "smtp":
            if conn.data_mode:
                conn.data_mode = False
                return "<end of data>"
            verb = words[0].upper() if words else ""
            conn.data_mode = verb == "DATA"
            return verb
        verb = " ".join(words[1:3]).upper() if len(words) > 1 else ""
        return verb if verb.startswith("UID ") else verb.split(" ")[0]

    async def _downstream(self, reader: asyncio.StreamReader, conn: _Conn) -> None:
        while True:
            try:
                data = await reader.read(65536)
            except ConnectionError:
                data = b""
            if not data:
                if not conn.stalled:
                    conn.client.transport.abort()
                return
            if conn.stalled:
                continue
            if conn.cut_after is not None:
                data = data[:conn.cut_after]
                conn.client.write(data)
                conn.abort()
                return
            conn.client.write(data)


async def _drain_until_eof(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(65536):
            pass


# --- certificates that must be refused ------------------------------------------------------


@dataclass(frozen=True)
class BadCerts:
    """(cert, key) pairs a client must refuse, and the CA the client does trust."""

    trusted_ca: Path
    self_signed: tuple[Path, Path]
    wrong_host: tuple[Path, Path]
    expired: tuple[Path, Path]

    def context(self, which: str) -> ssl.SSLContext:
        cert, key = getattr(self, which)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        return context


def make_bad_certs(folder: Path) -> BadCerts:
    folder.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([OPENSSL, *args], cwd=folder, check=True, capture_output=True,
                       timeout=60)

    def signed(name: str, cn: str, san: str, days: str) -> tuple[Path, Path]:
        (folder / f"{name}.ext").write_text(
            "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n"
            f"subjectAltName={san}\n")
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", days, "-extfile",
            f"{name}.ext")
        return folder / f"{name}.crt", folder / f"{name}.key"

    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3",
        "-subj", "/CN=reliability test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-x509", *ec, "-keyout", "self.key", "-out", "self.crt", "-days", "3",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
    return BadCerts(
        trusted_ca=folder / "ca.crt",
        self_signed=(folder / "self.crt", folder / "self.key"),
        wrong_host=signed("wrong", "mail.elsewhere.example", "DNS:mail.elsewhere.example",
                          "3"),
        expired=signed("expired", "localhost", "DNS:localhost,IP:127.0.0.1", "-1"),
    )


# --- replies and the command line --------------------------------------------------------------


def reply(original: EmailMessage, sender: str, body: str) -> bytes:
    """A threaded reply to the Reply-To of ``original``, dated three hours after it."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = str(original["Reply-To"])
    msg["Subject"] = "Re: " + str(original["Subject"])
    msg["Message-ID"] = make_msgid(domain="client.example")
    msg["In-Reply-To"] = str(original["Message-ID"])
    msg["References"] = str(original["Message-ID"])
    msg["Date"] = format_datetime(parsedate_to_datetime(str(original["Date"]))
                                  + timedelta(hours=3))
    msg.set_content(body)
    return bytes(msg)


def message_id_of(raw: bytes) -> str:
    match = re.search(rb"^Message-ID: *(<[^>]+>)", raw, re.M | re.I)
    assert match is not None, raw[:300]
    return match.group(1).decode()


def cli(config: Path, *args: str, now: str | None = None, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``mailflow -c CONFIG [--now NOW] ARGS...``, its output captured."""
    command = [sys.executable, "-m", "mailflow", "-c", str(config)]
    if now is not None:
        command += ["--now", now]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=False)


def set_keys(config: Path, table: str, **values: object) -> None:
    """Set keys of one table of config.toml, replacing any it had."""

    def toml(value: object) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, str | Path):
            return f'"{value}"'
        return str(value)

    new = [f"{key} = {toml(value)}" for key, value in values.items()]
    out: list[str] = []
    current, found = None, False
    for line in config.read_text().splitlines():
        header = re.match(r"\s*\[\[?([^\]]+)\]", line)
        if header:
            current = header.group(1).strip()
        elif current == table and line.split("=", 1)[0].strip() in values:
            continue
        out.append(line)
        if header and line.strip() == f"[{table}]":
            out.extend(new)
            found = True
    if not found:
        out += ["", f"[{table}]", *new]
    config.write_text("\n".join(out) + "\n")
