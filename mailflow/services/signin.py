"""Sign in to the SMTP and IMAP servers now, the way every pass does, to test the settings.

`mailflow check` runs it (not with `--offline`), and `mailflow run` at start:
a refused login stops the service at once (exit 1, so systemd shows it),
while a server that cannot be reached only delays it. The sign-in goes
through the adapters' own connect and login, whatever the `auth` method.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailflow.app import App
from mailflow.errors import ConnectionFailed, MailflowError


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
