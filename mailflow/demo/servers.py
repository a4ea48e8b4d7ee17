"""The demo's mail servers, in process, on loopback ports the OS picks.

- ``MailCatcher``: an aiosmtpd ``Controller`` (its own thread and event loop) that
  accepts every message and files a copy per recipient as
  ``mailboxes/<address>/NNN-<kind>.eml``, the demo's participants' mailboxes.
- ``DemoImapServer``: pymap, a pure-Python IMAP server (MOVE, IDLE, UIDPLUS) with
  its in-memory "dict" backend, one user, plain IMAP on 127.0.0.1, in its own
  thread and event loop. ``append`` and ``count`` are a real IMAP client (imaplib).

Both stop cleanly: the listening sockets are closed, the loops are closed and the
threads joined, so nothing is left for the garbage collector to warn about.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import imaplib
import re
import threading
from argparse import Namespace
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"
_SAFE = re.compile(r"[^A-Za-z0-9@._+-]")


# --- SMTP ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One message as it landed in one recipient's mailbox."""

    recipient: str
    path: Path
    data: bytes

    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def kind(self) -> str:
        return str(self.message().get("X-Mailflow-Kind", "unknown"))


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.catcher.deliver(list(envelope.rcpt_tos), bytes(envelope.original_content or b""))
        return "250 2.0.0 OK: delivered to the demo mailboxes"


class _Controller(Controller):
    def __init__(self, handler: _Handler) -> None:
        # a fixed server name: no DNS lookup (getfqdn) for every session
        super().__init__(handler, hostname=HOST, port=0, server_hostname="mx.demo.example")

    def _trigger_server(self) -> None:
        # port 0: learn the real port before the base class connects to it
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class MailCatcher:
    """An SMTP server that delivers everything to ``root/<address>/NNN-<kind>.eml``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._new: list[Delivery] = []
        self._counts: dict[str, int] = {}
        self._controller = _Controller(_Handler(self))

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def __enter__(self) -> Self:
        self.root.mkdir(parents=True, exist_ok=True)
        self._controller.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._controller.stop()

    def deliver(self, recipients: list[str], data: bytes) -> None:
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        kind = _SAFE.sub("_", str(parsed.get("X-Mailflow-Kind", "message")))
        with self._lock:
            for rcpt in recipients:
                address = rcpt.lower()
                folder = self.root / _SAFE.sub("_", address)
                folder.mkdir(exist_ok=True)
                if address not in self._counts:  # a later catcher (demo --web) goes on
                    self._counts[address] = len(list(folder.glob("*.eml")))
                number = self._counts[address] + 1
                self._counts[address] = number
                path = folder / f"{number:03d}-{kind}.eml"
                path.write_bytes(data)
                self._new.append(Delivery(address, path, data))

    def take_new(self) -> list[Delivery]:
        """What was delivered since the last call, in order of delivery."""
        with self._lock:
            new, self._new = self._new, []
        return new


# --- IMAP --------------------------------------------------------------------------------


class DemoImapServer:
    """pymap's in-memory backend serving one user on 127.0.0.1, in its own thread."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="demo-imap",
                                        daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    def __enter__(self) -> Self:
        self._thread.start()
        self._call(self._start()).result(timeout=30)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self._call(self._stop()).result(timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()

    def _call(self, coro: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _start(self) -> None:
        from proxyprotocol.reader import ProxyProtocolReader
        from pymap.backend.dict import DictBackend
        from pymap.concurrent import Subsystem
        from pymap.imap import IMAPServer
        from pysasl.hashing import BuiltinHash

        args = Namespace(demo_data=False, demo_user=self.username,
                         demo_password=self.password, passlib_cfg=None, proxy_protocol=None,
                         inherited_sockets=None, debug=False, host=HOST, port=0, cert=None,
                         key=None, tls=False)
        # Plain IMAP on loopback only (tls=False, so LOGIN is offered without STARTTLS).
        # The password lives in this process only: a cheap hash keeps each login fast,
        # and no DNS (blocklist lookups, the greeting's FQDN) is ever consulted.
        backend, config = await DictBackend.init(
            args, hash_context=BuiltinHash(rounds=1000), reject_dnsbl=False,
            invalid_user_sleep=0.0, cpu_subsystem=Subsystem.for_asyncio())
        config.apply_context()
        server = IMAPServer(backend.login, config)
        callback = ProxyProtocolReader(config.proxy_protocol).get_callback(server)
        self._server = await asyncio.start_server(self._tracked(callback), HOST, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def _tracked(self, callback: Any) -> Any:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._connections.add(task)
            try:
                await callback(reader, writer)
            finally:
                self._connections.discard(task)
        return handle

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()

    # -- a real client, for the simulated senders and for counting -------------------------

    def _client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(HOST, self.port, timeout=30)
        client.login(self.username, self.password)
        return client

    def append(self, messages: Iterable[bytes], folder: str = "INBOX") -> int:
        """APPEND each message to ``folder``; how many were appended."""
        count = 0
        client = self._client()
        try:
            for raw in messages:
                status, data = client.append(folder, None, None, raw)
                if status != "OK":
                    raise RuntimeError(f"IMAP APPEND refused: {data!r}")
                count += 1
        finally:
            client.logout()
        return count

    def count(self, folders: Iterable[str]) -> dict[str, int]:
        """How many messages each folder holds (0 for a folder that does not exist)."""
        client = self._client()
        result: dict[str, int] = {}
        try:
            for folder in folders:
                status, data = client.status(folder, "(MESSAGES)")
                match = re.search(rb"MESSAGES (\d+)", data[0] or b"") if status == "OK" \
                    and data and isinstance(data[0], bytes) else None
                result[folder] = int(match.group(1)) if match else 0
        finally:
            client.logout()
        return result
