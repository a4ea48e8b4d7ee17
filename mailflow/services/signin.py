"""Sign in to the SMTP and IMAP servers now, the way every pass does, to test the settings.

`mailflow check` runs it (not with `--offline`), and `mailflow run` at start:
a refused login stops the service at once (exit 1, so systemd shows it),
while a server that cannot be reached only delays it. The sign-in goes
through the adapters' own connect and login, whatever the `auth` method.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mailflow.app import App
from mailflow.errors import ConnectionFailed, MailflowError

log = logging.getLogger("mailflow.service")


@dataclass(frozen=True)
class SignInProblem:
    server: str  # "smtp" or "imap"
    message: str
    refused: bool  # the server said no (waiting will not help)

    def __str__(self) -> str:
        return f"[{self.server}] sign-in failed: {self.message}"


async def _smtp(app: App) -> None:
    async with app.smtp_sender() as sender:
        conn = sender.checkout()
        try:
            await conn.ensure_open()  # connects, STARTTLS or TLS, and logs in
        finally:
            sender.checkin(conn)


async def _imap(app: App) -> None:
    async with app.imap_mailbox():  # connects and logs in
        pass


async def sign_in(app: App) -> list[SignInProblem]:
    """Sign in to both servers; what went wrong, by server (empty: both let us in)."""
    problems = []
    for server, attempt in (("smtp", _smtp), ("imap", _imap)):
        try:
            await attempt(app)
        except ConnectionFailed as exc:
            problems.append(SignInProblem(server, str(exc), exc.refused))
        except MailflowError as exc:  # a missing password variable, say
            problems.append(SignInProblem(server, str(exc), True))
    return problems


async def sign_in_at_start(app: App) -> list[SignInProblem]:
    """`mailflow run` at start: log the servers that cannot be reached (each pass tries
    again) and return the refused sign-ins, which stop the service."""
    problems = await sign_in(app)
    for problem in problems:
        if not problem.refused:
            log.warning("%s (starting anyway: each pass tries again)", problem)
    return [p for p in problems if p.refused]
