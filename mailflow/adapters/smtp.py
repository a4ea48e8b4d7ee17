"""SMTP adapter over aiosmtplib: reused connections, a bounded pool, a rate limit.

``SmtpSender`` keeps up to ``max_connections`` connections open and reuses each
for many messages. It never retries a message whose content may have reached
the server: a failure after DATA began is reported as temporary and the caller
decides (otherwise a message could be delivered twice). Only a reused
connection found dead at ``MAIL FROM`` -- before any of the message was sent --
is reopened and the message tried on the fresh connection.

Results:
- ``None``: the server accepted the message (for at least one recipient).
- ``DeliveryError(temporary=True, code=4xx or None)``: 4xx, dropped connection,
  timeout; try again later.
- ``DeliveryError(temporary=False, code=5xx or None)``: refused for good.
- ``ConnectionFailed``: the server cannot be reached, TLS failed or the login
  was refused; nothing was sent, the pass should stop.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from types import TracebackType
from typing import Self

import aiosmtplib

from mailflow.adapters.smtp_batch import Batch, Item, K, Message, TokenBucket
from mailflow.config import SmtpSettings
from mailflow.errors import ConnectionFailed, DeliveryError
from mailflow.oauth import sasl
from mailflow.oauth.tokens import TokenSource

log = logging.getLogger("mailflow.smtp")
_ids = itertools.count(1)


def _is_ascii(*texts: str) -> bool:
    return all(text.isascii() for text in texts)


class Connection:
    """One SMTP session, opened lazily and reopened when found closed."""

    def __init__(self, sender: SmtpSender) -> None:
        self.id = next(_ids)
        self.owner = sender
        self.smtp: aiosmtplib.SMTP | None = None
        self.messages = 0  # sent on the current session
        self.busy = False  # inside a transaction (MAIL sent, no final reply yet)
        self.data_sent = False  # the server may have the message content

    @property
    def is_open(self) -> bool:
        return self.smtp is not None and self.smtp.is_connected

    async def ensure_open(self) -> None:
        if self.is_open:
            return
        self.messages = 0
        self.smtp = await self.owner._open(self.id)

    async def transact(self, sender: str, recipients: Sequence[str], message: Message) -> None:
        """One MAIL/RCPT/DATA transaction; raises aiosmtplib errors or DeliveryError."""
        smtp = self.smtp
        if smtp is None:
            raise aiosmtplib.SMTPServerDisconnected("not connected")
        utf8 = not _is_ascii(sender, *recipients) or message.utf8
        if utf8 and not smtp.supports_extension("smtputf8"):
            raise DeliveryError(
                "an address is not ASCII and the server does not offer SMTPUTF8",
                temporary=False,
            )
        eight_bit = smtp.supports_extension("8bitmime")
        data = message.data  # CRLF line endings, no Bcc, bodies 7bit or quoted-printable
        options = ["BODY=8BITMIME"] if eight_bit else []
        if utf8:
            options.append("SMTPUTF8")
        if smtp.supports_extension("size"):
            options.insert(0, f"SIZE={len(data)}")
        encoding = "utf-8" if utf8 else "ascii"
        self.busy, self.data_sent = True, False
        await smtp.mail(sender, options=options, encoding=encoding)
        refused: dict[str, aiosmtplib.SMTPRecipientRefused] = {}
        for recipient in recipients:
            try:
                await smtp.rcpt(recipient, encoding=encoding)
            except aiosmtplib.SMTPRecipientRefused as exc:
                refused[recipient] = exc
        if len(refused) == len(recipients):
            # one temporary refusal makes the whole message worth retrying
            first = min(refused.values(), key=lambda e: (e.code >= 500, e.code))
            raise _refusal(first.code, first.message, "recipient")
        self.data_sent = True
        await smtp.data(data)
        self.busy = False
        self.messages += 1
        for recipient, refusal in refused.items():
            log.warning(
                "smtp conn=%s message_id=%s recipient %s refused: %s %s",
                self.id, message.message_id, recipient, refusal.code, refusal.message,
            )

    async def reset(self) -> None:
        if self.smtp is None:
            return
        try:
            await self.smtp.rset()
        except (aiosmtplib.SMTPException, OSError):
            self.abort()

    def abort(self) -> None:
        if self.smtp is not None:
            self.smtp.close()

    async def quit(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None or not smtp.is_connected:
            return
        sock = smtp.get_transport_info("socket")
        try:
            await smtp.quit(timeout=min(self.owner.settings.timeout_seconds, 5.0))
        except (aiosmtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()
        await _socket_closed(sock)
        log.info("smtp conn=%s closed after %s messages", self.id, self.messages)


async def _socket_closed(sock: socket.socket | None, limit: float = 1.0) -> None:
    """Wait (at most ``limit`` seconds) until the socket is really closed: a TLS session's
    close first exchanges close_notify, and an event loop that ends meanwhile would leave
    the socket open."""
    deadline = time.monotonic() + limit
    while sock is not None and sock.fileno() != -1 and time.monotonic() < deadline:
        await asyncio.sleep(0.005)


def _refusal(code: int, text: str, what: str) -> DeliveryError:
    permanent = 500 <= code < 600
    return DeliveryError(
        f"the SMTP server refused the {what}: {code} {text}".rstrip(),
        temporary=not permanent,
        code=code,
    )


class SmtpSender:
    """Sends messages over at most ``max_connections`` reused SMTP connections.

    ``async with SmtpSender(settings) as sender:`` -- ``send`` one message, or
    ``send_many`` to stream a batch over the pool. Closing QUITs every session.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        password: str | None = None,
        tokens: TokenSource | None = None,
        envelope_from: str | None = None,
        local_hostname: str | None = None,
        burst: int = 1,
    ) -> None:
        self.settings = settings
        self._password = password if password is not None else settings.password()
        self._tokens = tokens
        if settings.auth == "oauth2" and tokens is None:
            raise ConnectionFailed('[smtp].auth is "oauth2" but the sender was made without '
                                   "a token source")
        self._envelope_from = envelope_from
        self._local_hostname = local_hostname
        self.bucket = TokenBucket(settings.rate_per_minute, burst)
        self.slots = asyncio.Semaphore(settings.max_connections)
        self._idle: list[Connection] = []
        self._tls: ssl.SSLContext | None = None
        if settings.security != "none":
            cafile = str(settings.ca_file) if settings.ca_file else None
            self._tls = ssl.create_default_context(cafile=cafile)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        await asyncio.gather(*(conn.quit() for conn in idle))

    # --- one message ---------------------------------------------------------

    async def send(self, message: Message, recipients: Sequence[str]) -> None:
        """Hand one message to the server; raise DeliveryError or ConnectionFailed."""
        async with self.slots:
            conn = self.checkout()
            try:
                await conn.ensure_open()
                await self.bucket.acquire()
                error = await self.deliver(conn, message, recipients)
            finally:
                self.checkin(conn)
        if error is not None:
            raise error

    # --- a batch -------------------------------------------------------------

    def send_many(
        self, items: Iterable[Item[K]] | AsyncIterable[Item[K]]
    ) -> AsyncIterator[tuple[K, DeliveryError | None]]:
        """Send ``(key, message, recipients)`` items; yield ``(key, error)`` as each ends.

        Items are pulled one at a time, only when a connection is open and the
        rate limit allows a message, so an (async) generator of items may
        record "sending" for an item as it yields it. Results come back in
        order of completion. If no connection can be opened (or reopened)
        while items remain, the results already finished are yielded and then
        ``ConnectionFailed`` is raised; the items not yet pulled were not sent.
        Stopping the iteration early cancels the messages in flight (their
        outcome is unknown) -- use ``contextlib.aclosing``.
        """
        return Batch(self, items).run()

    # --- the pool's parts, shared with smtp_batch.Batch ------------------------

    def checkout(self) -> Connection:
        return self._idle.pop() if self._idle else Connection(self)

    def checkin(self, conn: Connection) -> None:
        if conn.busy:  # interrupted mid-transaction: the session state is unknown
            conn.abort()
            conn.busy = False
        self._idle.append(conn)

    def _sender_for(self, message: Message) -> str:
        sender = self._envelope_from or message.sender
        if not sender:
            raise DeliveryError("the message has no From header", temporary=False)
        return sender

    async def deliver(
        self, conn: Connection, message: Message, recipients: Sequence[str]
    ) -> DeliveryError | None:
        """Run one transaction on an open connection; the error, or None when sent."""
        message_id = message.message_id
        try:
            sender = self._sender_for(message)
            if not recipients:
                raise DeliveryError("the message has no recipients", temporary=False)
            try:
                await conn.transact(sender, recipients, message)
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPResponseException) as exc:
                if not _stale(conn, exc):
                    raise
                log.info("smtp conn=%s found closed at MAIL FROM; reopening", conn.id)
                conn.abort()
                await conn.ensure_open()
                await conn.transact(sender, recipients, message)
        except DeliveryError as exc:
            error = exc
        except ConnectionFailed as exc:
            error = DeliveryError(f"the connection could not be reopened: {exc}", temporary=True)
        except aiosmtplib.SMTPResponseException as exc:
            error = _refusal(exc.code, exc.message, "message")
            if exc.code == 421:  # the server is closing the session
                conn.abort()
        except (aiosmtplib.SMTPException, OSError) as exc:
            conn.abort()
            error = DeliveryError(
                f"the connection to the SMTP server failed during the transaction: {exc}",
                temporary=True,
            )
        except ValueError as exc:  # an address that cannot go on an SMTP command line
            error = DeliveryError(str(exc), temporary=False)
        else:
            log.info(
                "smtp conn=%s sent message_id=%s recipients=%s", conn.id, message_id,
                len(recipients),
            )
            return None
        if conn.busy and conn.is_open:
            await conn.reset()  # end the half-done transaction
        # a cancellation leaves conn.busy set, so that checkin drops the session
        conn.busy = False
        log.warning(
            "smtp conn=%s %s failure message_id=%s code=%s: %s", conn.id,
            "temporary" if error.temporary else "permanent", message_id, error.code, error,
        )
        return error

    async def _open(self, conn_id: int) -> aiosmtplib.SMTP:
        s = self.settings
        if self._local_hostname is None:  # one lookup per sender, not per session
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        # a token is fetched before connecting, so no server waits on the token endpoint
        token = await self._tokens.token() if self._tokens is not None else None
        password_login = (s.username or None) if token is None else None  # "": no login
        smtp = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            timeout=s.timeout_seconds,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            tls_context=self._tls,
            username=password_login,
            password=self._password if password_login else None,
            local_hostname=self._local_hostname,
        )
        log.info("smtp conn=%s connecting to %s:%s security=%s", conn_id, s.host, s.port,
                 s.security)
        try:
            await smtp.connect()
            if smtp.is_ehlo_or_helo_needed:  # learn the extensions (8BITMIME, SIZE) now
                await smtp.ehlo()
            if token is not None:
                await self._oauth_login(smtp, token)
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            refused = isinstance(_root_tls_error(exc) or exc, (
                aiosmtplib.SMTPAuthenticationError, ssl.SSLCertVerificationError))
            failure = ConnectionFailed(self._explain(exc), refused=refused)
            log.debug("smtp conn=%s connect failed: %s", conn_id, failure)
            raise failure from None
        except BaseException:  # cancelled mid-connect (a batch ending): leave no socket open
            smtp.close()
            raise
        log.info("smtp conn=%s connected", conn_id)
        return smtp

    async def _oauth_login(self, smtp: aiosmtplib.SMTP, token: str) -> None:
        """AUTH XOAUTH2 or OAUTHBEARER with an initial response; a refused token is
        replaced once. Raises SMTPAuthenticationError when the new one is refused too."""
        s = self.settings
        assert self._tokens is not None and s.username is not None
        mechanism = self._tokens.mechanism
        if mechanism.lower() not in smtp.server_auth_methods:
            raise aiosmtplib.SMTPAuthenticationError(
                504, f"the server does not offer AUTH {mechanism} (it offers "
                f"{', '.join(smtp.server_auth_methods).upper() or 'none'}); set "
                "[oauth2].mechanism to one it offers")
        reason = ""
        for attempt in range(2):
            initial = sasl.initial_response(mechanism, s.username, token, s.host, s.port)
            response = await smtp.execute_command(b"AUTH", mechanism.encode(), initial.encode())
            if response.code == 334:  # an error challenge: end the exchange to get the reply
                reason = sasl.describe_challenge(response.message)
                response = await smtp.execute_command(
                    sasl.abort_response(mechanism).encode())
            if response.code == 235:
                return
            if attempt == 0:
                log.info("smtp: %s:%s refused the access token; fetching a new one", s.host,
                         s.port)
                token = await self._tokens.refused(token)
        raise aiosmtplib.SMTPAuthenticationError(
            response.code, f"{response.message}{'; ' + reason if reason else ''}")

    def _explain(self, exc: BaseException) -> str:
        s = self.settings
        exc = _root_tls_error(exc) or exc
        where = f"SMTP server {s.host}:{s.port}"
        if isinstance(exc, ssl.SSLCertVerificationError):
            text = (f"the TLS certificate of {where} could not be verified "
                    f"({exc.verify_message}); set [smtp].ca_file to the CA that signed it")
        elif isinstance(exc, ssl.SSLError):
            text = (f"TLS with {where} failed ({exc.reason}); check [smtp].security "
                    '("tls" is usually port 465, "starttls" port 587)')
        elif isinstance(exc, aiosmtplib.SMTPAuthenticationError) and self._tokens is not None:
            text = (f"{where} refused the OAuth 2.0 sign-in for {s.username!r} ({exc.code} "
                    f"{exc.message}) even with a new token: check that the app may send as "
                    "this mailbox (see the README) and [smtp].username")
        elif isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            text = (f"{where} refused the login for {s.username!r} ({exc.code} {exc.message}); "
                    f"check the password in ${s.password_env} and [smtp].username")
        elif isinstance(exc, aiosmtplib.SMTPResponseException):
            text = f"{where} refused the session ({exc.code} {exc.message})"
        elif isinstance(exc, aiosmtplib.SMTPReadTimeoutError):
            text = (f"{where} stopped answering for {s.timeout_seconds:g}s while opening "
                    "the session (greeting, STARTTLS or login)")
        elif isinstance(exc, TimeoutError):
            text = (f"{where} did not answer within {s.timeout_seconds:g}s; "
                    "check [smtp].host and [smtp].port")
        else:
            text = f"cannot connect to {where}: {exc}; check [smtp].host, port and security"
        return self._scrub(text)

    def _scrub(self, text: str) -> str:
        if self._password:
            text = text.replace(self._password, "***")
        return text


def _root_tls_error(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind aiosmtplib's wrapper exception, if there is one."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _stale(conn: Connection, exc: Exception) -> bool:
    """A reused session that died before MAIL FROM was answered: safe to reopen once."""
    if conn.data_sent or conn.messages == 0:
        return False
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return exc.code == 421
    return isinstance(exc, aiosmtplib.SMTPServerDisconnected) and not conn.is_open


__all__ = [
    "ConnectionFailed", "DeliveryError", "Item", "SmtpSender", "TokenBucket",
]
