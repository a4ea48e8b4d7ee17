"""IMAP adapter: a thin async layer over aioimaplib for the poller.

    async with ImapMailbox(settings) as box:
        await box.ensure_folders()
        uidvalidity = await box.select()
        for uid, raw in await box.fetch(await box.uids_after(last_uid)):
            ...
        await box.move(done_uids, settings.processed_folder)

Every network wait is bounded by ``settings.timeout_seconds`` and raced against the
connection being lost, so nothing hangs: a transfer (FETCH) may take longer as long
as bytes keep arriving within each ``timeout_seconds`` window. Connecting, TLS,
login, a timeout or a dropped connection raise ``ConnectionFailed``; a command the
server refuses raises ``MailboxError``. After either, the connection is closed and
the caller reconnects. Nothing is ever deleted except by ``move`` (MOVE, or
COPY + \\Deleted + UID EXPUNGE of exactly those UIDs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Awaitable, Sequence
from types import TracebackType
from typing import Any, TypeVar

from aioimaplib import aioimaplib as _aio

from mailflow.adapters.imap_protocol import (
    Protocol,
    encode_folder,
    message_set,
    parse_fetch_bodies,
    quote,
)
from mailflow.config import ImapSettings
from mailflow.errors import ConnectionFailed, MailboxError
from mailflow.oauth import sasl
from mailflow.oauth.tokens import TokenSource

log = logging.getLogger("mailflow.imap")

T = TypeVar("T")
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_EXISTS = re.compile(rb"^(?:\* )?(\d+) EXISTS")
_FLAG = re.compile(r"^\\?[A-Za-z0-9$_.\-]+$")
MAX_IDLE_SECONDS = 29 * 60  # RFC 2177: servers may drop an idle client after 30 minutes


class ImapMailbox:
    """One logged-in IMAP connection. Use as an async context manager."""

    def __init__(self, settings: ImapSettings, *, password: str | None = None,
                 tokens: TokenSource | None = None, use_move: bool = True) -> None:
        """``password`` defaults to ``settings.password()``; ``tokens`` signs in with
        OAuth 2.0 (``auth = "oauth2"``); ``use_move=False`` ignores the server's MOVE
        capability and uses COPY + UID EXPUNGE (for tests)."""
        self.settings = settings
        self._password = password
        self._tokens = tokens
        self._use_move = use_move
        self._timeout = settings.timeout_seconds
        self._proto: Any = None
        self._transport: Any = None
        self._lost: asyncio.Future[BaseException | None] | None = None
        self._broken: str | None = None
        self.capabilities: frozenset[str] = frozenset()
        self.folder: str | None = None
        self.exists = 0

    # -- connection -----------------------------------------------------------------

    async def __aenter__(self) -> ImapMailbox:
        await self.connect()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    @property
    def where(self) -> str:
        return f"IMAP server {self.settings.host}:{self.settings.port}"

    @property
    def has_move(self) -> bool:
        return self._use_move and "MOVE" in self.capabilities

    @property
    def has_idle(self) -> bool:
        return "IDLE" in self.capabilities

    async def connect(self) -> None:
        s = self.settings
        password = self._password if self._password is not None else s.password()
        # a token is fetched before connecting, so no server waits on the token endpoint
        token = await self._oauth().token() if s.auth == "oauth2" else None
        loop = asyncio.get_running_loop()
        self._lost = loop.create_future()
        self._proto = Protocol(loop, self._connection_lost)
        context = self._ssl_context() if s.security != "none" else None
        log.debug("connecting to %s:%s security=%s user=%s", s.host, s.port, s.security,
                 s.username)
        try:
            self._transport, _ = await asyncio.wait_for(loop.create_connection(
                lambda: self._proto, s.host, s.port,
                ssl=context if s.security == "tls" else None), self._timeout)
            await self._run("the greeting", self._proto.wait("AUTH|NONAUTH"))
            if s.security == "starttls":
                await self._starttls(loop, context)
            if self._proto.state == _aio.NONAUTH and token is not None:
                await self._oauth_login(token)
            elif self._proto.state == _aio.NONAUTH:
                await self._login(password)
            await self._run("CAPABILITY", self._proto.capability())
        except ConnectionFailed:
            await self._abort("the connection failed")
            raise
        except BaseException as exc:
            await self._abort("the connection failed")
            raise self._connect_error(exc) from None
        self.capabilities = frozenset(c.upper() for c in self._proto.capabilities)
        if not self.has_move and "UIDPLUS" not in self.capabilities:
            await self._abort("the server cannot move messages")
            raise ConnectionFailed(
                f"{self.where} offers neither MOVE nor UIDPLUS, so processed messages "
                "cannot be moved without expunging others; use a server with either"
            )
        log.debug("logged in to %s:%s as %s (move=%s idle=%s uidplus=%s)", s.host, s.port,
                 s.username, self.has_move, self.has_idle, "UIDPLUS" in self.capabilities)

    def _ssl_context(self) -> ssl.SSLContext:
        ca_file = self.settings.ca_file
        try:
            return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise ConnectionFailed(f"cannot load imap.ca_file {ca_file}: {exc}") from None

    async def _starttls(self, loop: asyncio.AbstractEventLoop,
                        context: ssl.SSLContext | None) -> None:
        assert context is not None
        if "STARTTLS" not in {c.upper() for c in self._proto.capabilities}:
            raise ConnectionFailed(
                f"{self.where} does not offer STARTTLS: set imap.security = \"tls\" if this "
                "port speaks TLS from the start, or use the server's STARTTLS port")
        response = await self._run("STARTTLS", self._proto.execute(
            _aio.Command("STARTTLS", self._proto.new_tag(), loop=loop)))
        if response.result != "OK":
            raise ConnectionFailed(f"{self.where} refused STARTTLS: {_text(response)}")
        self._proto.incomplete_line = b""  # nothing sent before the handshake is trusted
        self._transport = await asyncio.wait_for(loop.start_tls(
            self._transport, self._proto, context, server_hostname=self.settings.host),
            self._timeout)
        self._proto.transport = self._transport
        await self._run("CAPABILITY", self._proto.capability())

    async def _login(self, password: str | None) -> None:
        s = self.settings
        if not s.username or password is None:
            raise ConnectionFailed(f"{self.where} needs a login: set imap.username and "
                                   "imap.password_env", refused=True)
        if "LOGINDISABLED" in {c.upper() for c in self._proto.capabilities}:
            raise ConnectionFailed(f"{self.where} refuses to log in without TLS: set "
                                   "imap.security = \"starttls\" or \"tls\"", refused=True)
        response = await self._run("LOGIN", self._proto.login(quote(s.username), password))
        if response.result != "OK":
            raise ConnectionFailed(
                f"{self.where} refused the login for {s.username!r} ({_text(response)}): "
                f"check imap.username and the password in ${s.password_env}", refused=True)

    def _oauth(self) -> TokenSource:
        if self._tokens is None:
            raise ConnectionFailed('[imap].auth is "oauth2" but this connection was made '
                                   "without a token source")
        return self._tokens

    async def _oauth_login(self, token: str) -> None:
        """AUTHENTICATE XOAUTH2 or OAUTHBEARER; a refused token is replaced once."""
        s, tokens = self.settings, self._oauth()
        mechanism = tokens.mechanism
        capabilities = {c.upper() for c in self._proto.capabilities}
        if f"AUTH={mechanism}" not in capabilities:
            offered = sorted(c[5:] for c in capabilities if c.startswith("AUTH="))
            raise ConnectionFailed(
                f"{self.where} does not offer AUTH={mechanism} (it offers "
                f"{', '.join(offered) or 'none'}): set [oauth2].mechanism to one it offers",
                refused=True)
        assert s.username is not None  # the config requires it with auth = "oauth2"
        for attempt in range(2):
            initial = sasl.initial_response(mechanism, s.username, token, s.host, s.port)
            response = await self._run(f"AUTHENTICATE {mechanism}", self._proto.authenticate(
                mechanism, initial, sasl.abort_response(mechanism), "SASL-IR" in capabilities))
            if response.result == "OK":
                return
            if attempt == 0:
                log.info("%s refused the access token; fetching a new one", self.where)
                token = await tokens.refused(token)
        reason = sasl.describe_challenge(self._proto.sasl_challenge)
        raise ConnectionFailed(
            f"{self.where} refused the OAuth 2.0 sign-in ({mechanism}) for {s.username!r} "
            f"({_text(response)}{'; ' + reason if reason else ''}) even with a new token: "
            "check that the app may use this mailbox (see the README) and [imap].username",
            refused=True)

    def _connect_error(self, exc: BaseException) -> BaseException:
        where = self.where
        if isinstance(exc, ssl.SSLCertVerificationError):
            return ConnectionFailed(
                f"the TLS certificate of {where} could not be verified "
                f"({exc.verify_message}): check imap.host, or set imap.ca_file to the CA "
                "that signed it", refused=True)
        if isinstance(exc, ssl.SSLError):
            return ConnectionFailed(
                f"TLS with {where} failed ({exc.reason}): check imap.security "
                "(\"tls\" for an implicit-TLS port such as 993, \"starttls\" for 143)")
        if isinstance(exc, TimeoutError):
            return ConnectionFailed(f"{where} did not answer within {self._timeout:g} s: "
                                    "check imap.host, imap.port and imap.security")
        if isinstance(exc, OSError):
            return ConnectionFailed(f"cannot connect to {where} ({exc.strerror or exc}): "
                                    "check imap.host and imap.port, and that it is running")
        if isinstance(exc, Exception):
            return ConnectionFailed(f"cannot talk to {where}: {type(exc).__name__}: {exc}")
        return exc  # CancelledError, KeyboardInterrupt

    def _connection_lost(self, exc: BaseException | None) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(exc)

    async def close(self) -> None:
        """Log out (best effort) and close the connection. Safe to call twice."""
        if self._proto is None:
            return
        lost = self._lost is not None and self._lost.done()
        if not lost and self._broken is None and self._proto.state in (_aio.AUTH, _aio.SELECTED):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._proto.logout(), min(self._timeout, 5))
        await self._abort("the connection was closed")

    async def _abort(self, reason: str) -> None:
        """Drop the connection now (no TLS close_notify: nothing is left to say) and
        wait until the socket is really closed, so no transport outlives us."""
        self._broken = self._broken or reason
        transport, self._transport = self._transport, None
        if transport is None:
            return
        transport.abort()
        if self._lost is not None and not self._lost.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._lost), 2)

    # -- running commands -----------------------------------------------------------

    async def _run(self, what: str, command: Awaitable[T], *, limit: float | None = None,
                   progress: bool = False) -> T:
        """Await one aioimaplib call: bounded, raced against connection loss, errors mapped.

        ``limit`` replaces the timeout; ``progress`` lets the wait go on while bytes arrive.
        """
        if self._broken is not None or self._lost is None:
            if asyncio.iscoroutine(command):
                command.close()
            raise ConnectionFailed(f"{self.where}: {self._broken or 'not connected'}")
        task = asyncio.ensure_future(command)
        lost = self._lost
        waiters: set[asyncio.Future[Any]] = {task, lost}
        while True:
            mark = self._proto.bytes_received
            done, _ = await asyncio.wait(waiters, timeout=limit or self._timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                break
            if progress and lost not in done and self._proto.bytes_received > mark:
                continue
            reason = ("closed the connection" if lost in done else
                      f"did not answer within {limit or self._timeout:g} s")
            self._broken = f"{self.where} {reason} during {what}"
            log.debug("%s", self._broken)
            # close first: a command still in flight (aioimaplib's own CAPABILITY after the
            # greeting holds its state lock) only ends when the connection does
            await self._abort(self._broken)
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise ConnectionFailed(self._broken)
        try:
            return task.result()
        except (_aio.CommandTimeout, _aio.Abort, _aio.Error, OSError) as exc:
            if lost.done():
                self._broken = f"{self.where} closed the connection during {what}"
                await self._abort(self._broken)
                raise ConnectionFailed(self._broken) from None
            raise MailboxError(f"{self.where}: {what} failed: {exc!r}") from None

    async def _ok(self, what: str, command: Awaitable[Any], **kwargs: Any) -> Any:
        response = await self._run(what, command, **kwargs)
        if response.result != "OK":
            raise MailboxError(f"{self.where} refused {what}: {_text(response)}")
        return response

    # -- mailbox operations ---------------------------------------------------------

    async def ensure_folders(self) -> None:
        """Create (and subscribe) the processed and quarantine folders if missing."""
        for folder in (self.settings.processed_folder, self.settings.quarantine_folder):
            name = encode_folder(folder)
            listed = await self._ok(f"LIST {folder}",
                                    self._proto.simple_command("LIST", '""', name))
            if any(line for line in listed.lines[:-1]):
                continue
            await self._ok(f"CREATE {folder}", self._proto.simple_command("CREATE", name))
            with contextlib.suppress(MailboxError):
                await self._ok(f"SUBSCRIBE {folder}", self._proto.execute(_aio.Command(
                    "SUBSCRIBE", self._proto.new_tag(), name, loop=self._proto.loop)))
            log.info("created folder %s", folder)

    async def select(self, folder: str | None = None) -> int:
        """Open a folder (default ``settings.folder``) read-write; returns its UIDVALIDITY."""
        folder = folder or self.settings.folder
        response = await self._ok(f"SELECT {folder}",
                                  self._proto.select(encode_folder(folder)))
        uidvalidity = None
        for line in response.lines:
            if match := _UIDVALIDITY.search(line):
                uidvalidity = int(match.group(1))
            elif match := _EXISTS.match(line):
                self.exists = int(match.group(1))
        if uidvalidity is None:
            raise MailboxError(f"{self.where} sent no UIDVALIDITY for {folder}")
        self.folder = folder
        log.debug("selected %s uidvalidity=%s exists=%s", folder, uidvalidity, self.exists)
        return uidvalidity

    async def uids_after(self, last_uid: int) -> list[int]:
        """UIDs greater than ``last_uid`` in the selected folder, ascending."""
        # a server only shows mail that arrived since the last command after a sync
        await self._ok("NOOP", self._proto.simple_command("NOOP"))
        response = await self._ok("UID SEARCH", self._proto.search(
            "UID", f"{last_uid + 1}:*", charset=None, by_uid=True))
        uids: set[int] = set()
        for line in response.lines[:-1]:
            words = line.split()
            if words and words[0].upper() == b"SEARCH":
                words = words[1:]
            uids.update(int(w) for w in words if w.isdigit())
        # "n:*" matches the highest UID even when it is below n (RFC 3501 6.4.8)
        return sorted(uid for uid in uids if uid > last_uid)

    async def fetch(self, uids: Sequence[int]) -> list[tuple[int, bytes]]:
        """(uid, raw bytes) for each UID still present, in UID order, without setting \\Seen."""
        out: list[tuple[int, bytes]] = []
        for batch in _batches(sorted(set(uids)), self.settings.batch_size):
            response = await self._ok(
                f"UID FETCH of {len(batch)} messages",
                self._proto.fetch(message_set(batch), "(UID BODY.PEEK[])", by_uid=True),
                progress=True)
            got = parse_fetch_bodies(response.lines)
            wanted = set(batch)
            got = [item for item in got if item[0] in wanted]
            if len(got) < len(batch):
                log.info("fetch: %s of %s messages were gone", len(batch) - len(got),
                         len(batch))
            log.debug("fetched %s messages, %s bytes", len(got),
                      sum(len(raw) for _, raw in got))
            out.extend(got)
        out.sort()
        return out

    async def flag(self, uids: Sequence[int], flag: str) -> None:
        """Add a flag (``\\Seen``, ``\\Flagged`` or a keyword such as ``$Mailflow``)."""
        if not _FLAG.match(flag):
            raise ValueError(f"not an IMAP flag: {flag!r}")
        for batch in _batches(sorted(set(uids)), self.settings.batch_size):
            await self._ok(f"UID STORE {flag}", self._proto.store(
                message_set(batch), "+FLAGS.SILENT", f"({flag})", by_uid=True))

    async def move(self, uids: Sequence[int], folder: str) -> None:
        """Move messages to ``folder``: UID MOVE, else UID COPY + \\Deleted + UID EXPUNGE
        of exactly these UIDs (UIDPLUS). Never a plain EXPUNGE."""
        target = encode_folder(folder)
        for batch in _batches(sorted(set(uids)), self.settings.batch_size):
            uid_set = message_set(batch)
            if self.has_move:
                await self._ok(f"UID MOVE to {folder}",
                               self._proto.move(uid_set, target, by_uid=True))
            else:
                await self._ok(f"UID COPY to {folder}",
                               self._proto.copy(uid_set, target, by_uid=True))
                await self._ok("UID STORE \\Deleted", self._proto.store(
                    uid_set, "+FLAGS.SILENT", "(\\Deleted)", by_uid=True))
                await self._ok("UID EXPUNGE", self._proto.expunge(uid_set, by_uid=True))
            log.info("moved %s messages to %s (%s)", len(batch), folder,
                     "MOVE" if self.has_move else "COPY+UID EXPUNGE")

    async def idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for new mail in the selected folder; True if some came.

        Uses IDLE when offered, else sleeps and asks with NOOP.
        """
        timeout = min(timeout, MAX_IDLE_SECONDS)
        if not self.has_idle:
            await asyncio.sleep(timeout)
            response = await self._ok("NOOP", self._proto.simple_command("NOOP"))
            return any(_EXISTS.match(line) for line in response.lines)
        while not self._proto.idle_queue.empty():
            self._proto.idle_queue.get_nowait()
        new_mail: bool = await self._run("IDLE", self._idle(timeout),
                                         limit=timeout + self._timeout)
        log.debug("idle ended new_mail=%s", new_mail)
        return new_mail

    async def _idle(self, timeout: float) -> bool:
        proto = self._proto
        loop = asyncio.get_running_loop()
        idle_task = asyncio.ensure_future(proto.idle())
        started = asyncio.ensure_future(proto.wait_for_idle_response())
        await asyncio.wait({idle_task, started}, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            started.cancel()
            response = idle_task.result()
            raise MailboxError(f"{self.where} refused IDLE: {_text(response)}")
        deadline = loop.time() + timeout
        new_mail = False
        while not new_mail and (remaining := deadline - loop.time()) > 0:
            try:
                lines = await asyncio.wait_for(proto.idle_queue.get(), remaining)
            except TimeoutError:
                break
            new_mail = any(_EXISTS.match(line) for line in lines if type(line) is bytes)
        proto.idle_done()
        response = await idle_task
        if response.result != "OK":
            raise MailboxError(f"{self.where} ended IDLE with: {_text(response)}")
        return new_mail


def _batches(items: list[int], size: int) -> list[list[int]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _text(response: Any) -> str:
    """The server's words from a tagged response, for error messages."""
    lines = getattr(response, "lines", None) or [b""]
    last = lines[-1]
    text = bytes(last).decode("utf-8", "replace") if isinstance(last, bytes | bytearray) else ""
    return f"{getattr(response, 'result', '?')} {text}".strip()
