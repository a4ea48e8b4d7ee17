"""An in-process SMTP server for tests: records every message, injects faults.

``RecordingSmtpServer`` wraps an aiosmtpd ``Controller`` on 127.0.0.1, port 0
(the OS picks a free port). The server runs its own event loop in a thread,
so a test's client loop and the server never block each other, and a stalled
server really stalls. Optional implicit TLS or STARTTLS (certificates from
``make_test_certs``, made with the openssl CLI) and AUTH PLAIN/LOGIN against
one user and password, or (``oauth=``) AUTH XOAUTH2 and OAUTHBEARER accepted only
with a live token of the test authorization server (``oauth_server.py``) that opens
the mailbox named in the SASL string.

Faults apply to the next message(s) reaching a stage::

    server.fail_next(451)                 # 451 to the next DATA
    server.fail_next(550, stage="rcpt")   # 550 to the next RCPT
    server.fail_next(421, n=2)            # 421 and hang up, twice
    server.drop_next()                    # data read, then the connection dropped, no reply
    server.stall_next(30)                 # data read, then no reply for 30 s

Counters: ``sessions`` (connections accepted), ``max_concurrent`` (most
sessions open at once), ``messages`` (accepted, in order), ``dropped`` and
``stalled`` (data that reached the server without an accepting reply).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email
import email.policy
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
Stage = Literal["mail", "rcpt", "data"]


# --- certificates -------------------------------------------------------------


@dataclass(frozen=True)
class TestCerts:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_test_certs(directory: Path) -> TestCerts:
    """A throwaway CA and a server certificate for localhost / 127.0.0.1."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "server.ext"
    ext.write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
    )

    def run(*args: str | Path) -> None:
        subprocess.run([OPENSSL, *map(str, args)], check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
        "-subj", "/CN=mailflow test CA", "-keyout", ca_key, "-out", ca_crt,
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", "/CN=localhost",
        "-keyout", key, "-out", csr)
    run("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
        "-days", "2", "-sha256", "-extfile", ext, "-out", crt)
    return TestCerts(ca_file=ca_crt, cert_file=crt, key_file=key)


# --- what the server saw ------------------------------------------------------------


@dataclass
class Received:
    """One accepted (or dropped / stalled) message with its envelope."""

    session: int
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    mail_options: list[str]
    login: str | None
    tls: bool
    at: float = field(default_factory=time.monotonic)

    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Fault:
    stage: Stage
    action: Literal["reply", "drop", "stall"]
    remaining: int
    code: int = 0
    text: str = ""
    seconds: float = 0.0


_TEXTS = {
    421: "4.3.2 Service shutting down, closing channel",
    450: "4.2.1 Mailbox busy, try later",
    451: "4.3.0 Local error in processing, try later",
    452: "4.3.1 Insufficient system storage",
    550: "5.1.1 Mailbox unavailable",
    552: "5.3.4 Message too big",
    553: "5.1.3 Mailbox name not allowed",
    554: "5.7.1 Transaction failed",
}


class _Handler:
    """aiosmtpd hooks; runs on the server thread."""

    def __init__(self, owner: RecordingSmtpServer) -> None:
        self.owner = owner

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        mail_options: list[str],
    ) -> str:
        needs_login = self.owner.auth is not None or self.owner.oauth is not None
        if needs_login and not session.authenticated:
            return "530 5.7.0 Authentication required"
        status = await self.owner._fault("mail", server, session, envelope)
        if status is not None:
            return status
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        status = await self.owner._fault("rcpt", server, session, envelope)
        if status is not None:
            return status
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        status = await self.owner._fault("data", server, session, envelope)
        if status is not None:
            return status
        if self.owner.delay:
            await asyncio.sleep(self.owner.delay)
        self.owner._record(self.owner.messages, server, session, envelope)
        return "250 2.0.0 OK queued"


_OAUTH_ERROR = base64.b64encode(
    b'{"status":"invalid_token","scope":"https://mail.example/","schemes":"Bearer"}')


def _parse_sasl(mechanism: str, initial: str) -> tuple[str, str]:
    """(user, token) of an XOAUTH2 or OAUTHBEARER initial response; ("", "") if malformed."""
    try:
        raw = base64.b64decode(initial, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    if mechanism == "OAUTHBEARER":
        gs2, _, rest = raw.partition("\x01")
        user = gs2.split(",")[1].removeprefix("a=").replace("=2C", ",").replace("=3D", "=")
        fields = rest.split("\x01")
    else:
        fields = raw.split("\x01")
        user = next((f[5:] for f in fields if f.startswith("user=")), "")
    token = next((f[12:] for f in fields if f.startswith("auth=Bearer ")), "")
    return user, token


class _OAuthHandler(_Handler):
    """Adds AUTH XOAUTH2 and OAUTHBEARER: a live token for the named mailbox, else the
    error challenge, the client's end of the exchange, and 535."""

    async def _oauth(self, server: SMTP, args: list[str]) -> AuthResult:
        mechanism = args[0].upper()
        initial = args[1] if len(args) > 1 else ""
        if not initial:
            answer = await server.challenge_auth("", encode_to_b64=False)
            initial = answer.decode() if isinstance(answer, bytes) else ""
        user, token = _parse_sasl(mechanism, initial)
        check = self.owner.oauth
        ok = check is not None and bool(user) and check(token) == user
        with self.owner._lock:
            self.owner.logins.append((user, ok))
        if ok:
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        await server.challenge_auth(_OAUTH_ERROR, encode_to_b64=False)
        return AuthResult(success=False, handled=False)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._oauth(server, args)

    async def auth_OAUTHBEARER(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._oauth(server, args)


class _CountingSMTP(SMTP):
    """Counts sessions and how many are open at once."""

    def __init__(self, owner: RecordingSmtpServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.number = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None:  # not the STARTTLS upgrade of a session
            self.number = self.owner._opened()
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.owner._closed()
        super().connection_lost(error)


class _Controller(Controller):
    def __init__(self, owner: RecordingSmtpServer, **kwargs: Any) -> None:
        self.owner = owner
        handler = _OAuthHandler(owner) if owner.oauth is not None else _Handler(owner)
        super().__init__(handler, hostname=HOST, port=0, **kwargs)

    def factory(self) -> SMTP:
        return _CountingSMTP(self.owner, self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # port 0: learn the real port before the base class connects to it
        server = cast(asyncio.Server, self.server)
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class RecordingSmtpServer:
    """An aiosmtpd server on 127.0.0.1 that keeps what it receives.

    ``tls``: implicit TLS with this context; ``starttls``: offer STARTTLS with
    this context (``require_starttls`` refuses mail before it); ``auth``:
    ``(user, password)`` required before MAIL; ``oauth``: a token -> mailbox check
    (``OAuthServer.check``), and a sign-in with a live token is required before MAIL.
    """

    def __init__(
        self,
        *,
        tls: ssl.SSLContext | None = None,
        starttls: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        auth: tuple[str, str] | None = None,
        oauth: Callable[[str], str | None] | None = None,
        hostname: str = "mx.test",
    ) -> None:
        self.auth = auth
        self.oauth = oauth
        self.tls = tls is not None
        self.starttls = starttls is not None
        self.messages: list[Received] = []
        self.dropped: list[Received] = []
        self.stalled: list[Received] = []
        self.sessions = 0
        self.open_sessions = 0
        self.max_concurrent = 0
        self.logins: list[tuple[str, bool]] = []  # (user, accepted)
        self.delay = 0.0  # seconds to think before accepting each message
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        kwargs: dict[str, Any] = {
            "server_hostname": hostname,
            "ready_timeout": 10.0,
            "auth_require_tls": False,  # enforced in handle_MAIL instead, see `auth`
            "authenticator": self._authenticate,
        }
        if tls is not None:
            kwargs["ssl_context"] = tls
        if starttls is not None:
            kwargs["tls_context"] = starttls
            kwargs["require_starttls"] = require_starttls
        self._controller = _Controller(self, **kwargs)

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> RecordingSmtpServer:
        self._controller.start()
        with self._lock:  # forget the controller's own readiness probe
            self.sessions = 0
            self.max_concurrent = self.open_sessions
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> RecordingSmtpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        return int(self._controller.port)

    # --- faults ------------------------------------------------------------------------

    def fail_next(
        self, code: int, n: int = 1, *, stage: Stage = "data", text: str | None = None
    ) -> None:
        """Answer ``code`` to the next ``n`` messages at ``stage``; 421 also hangs up."""
        reply = text if text is not None else _TEXTS.get(code, "Refused")
        self._add(_Fault(stage, "reply", n, code=code, text=reply))

    def drop_next(self, n: int = 1, *, stage: Stage = "data") -> None:
        """Close the connection without a reply (at "data": after the data arrived)."""
        self._add(_Fault(stage, "drop", n))

    def stall_next(self, seconds: float = 60.0, n: int = 1, *, stage: Stage = "data") -> None:
        """Say nothing for ``seconds`` (the server's stop() cancels the wait)."""
        self._add(_Fault(stage, "stall", n, seconds=seconds))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take(self, stage: Stage) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.stage == stage:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    async def _fault(
        self, stage: Stage, server: SMTP, session: Session, envelope: Envelope
    ) -> str | None:
        fault = self._take(stage)
        if fault is None:
            return None
        if fault.action == "reply":
            if fault.code == 421:
                server.loop.call_soon(_close, server)  # after the reply is written
            return f"{fault.code} {fault.text}"
        if stage == "data":
            target = self.dropped if fault.action == "drop" else self.stalled
            self._record(target, server, session, envelope)
        if fault.action == "stall":
            await asyncio.sleep(fault.seconds)
            return "451 4.4.2 Sorry, I stalled"
        cast(asyncio.Transport, server.transport).abort()
        return "421 not sent: the connection is gone"

    # --- recording -------------------------------------------------------------------

    def _record(
        self, target: list[Received], server: SMTP, session: Session, envelope: Envelope
    ) -> None:
        data = envelope.original_content or b""
        auth: Any = session.auth_data
        login = auth.login.decode() if session.authenticated else None
        item = Received(
            session=getattr(server, "number", 0),
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            data=bytes(data),
            mail_options=list(envelope.mail_options),
            login=login,
            tls=_uses_tls(server, session),
        )
        with self._changed:
            target.append(item)
            self._changed.notify_all()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            self.auth is not None
            and isinstance(data, LoginPassword)
            and (data.login.decode(), data.password.decode()) == self.auth
        )
        with self._lock:
            self.logins.append((data.login.decode() if isinstance(data, LoginPassword) else "",
                                ok))
        # handled=False: let aiosmtpd send the 535 reply itself
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    def _opened(self) -> int:
        with self._lock:
            self.sessions += 1
            self.open_sessions += 1
            self.max_concurrent = max(self.max_concurrent, self.open_sessions)
            return self.sessions

    def _closed(self) -> None:
        with self._lock:
            self.open_sessions -= 1

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until ``count`` messages were accepted (or raise TimeoutError)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.messages) >= count, timeout):
                raise TimeoutError(f"{len(self.messages)} of {count} messages after {timeout}s")
            return list(self.messages)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block until no session is open (the client QUIT or hung up)."""
        deadline = time.monotonic() + timeout
        while self.open_sessions > 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.open_sessions} sessions still open")
            time.sleep(0.01)


def _uses_tls(server: SMTP, session: Session) -> bool:
    if session.ssl is not None:  # STARTTLS
        return True
    transport = server.transport  # implicit TLS
    return transport is not None and transport.get_extra_info("sslcontext") is not None


def _close(server: SMTP) -> None:
    if server.transport is not None:
        server.transport.close()


def free_port() -> int:
    """A loopback port nobody listens on right now (for "cannot connect" tests)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def iter_bodies(message: EmailMessage) -> Iterator[tuple[str, str]]:
    """(content type, decoded text) of every text part."""
    for part in message.walk():
        if part.get_content_maintype() == "text":
            assert isinstance(part, EmailMessage)
            yield part.get_content_type(), str(part.get_content()).replace("\r\n", "\n")
