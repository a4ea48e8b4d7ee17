"""One error root with typed subclasses.

Adapters and domain code raise these; services decide what to do and log.
Every message is written for the person who has to fix the problem.
"""

from __future__ import annotations


class MailflowError(Exception):
    """Root of every error mailflow raises on purpose."""


class ConfigError(MailflowError):
    """The configuration file is missing, unreadable or invalid."""


class RosterError(MailflowError):
    """A roster import was refused; `problems` lists every bad line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class TemplateError(MailflowError):
    """A template could not be loaded or rendered; the message names file and line."""


class StoreError(MailflowError):
    """The store file cannot be read or written."""


class UnknownPairError(MailflowError):
    """A command named a pair id that is not in the roster."""


class DeliveryError(MailflowError):
    """A message could not be handed to the SMTP server."""

    def __init__(self, message: str, *, temporary: bool, code: int | None = None) -> None:
        self.temporary = temporary
        self.code = code
        super().__init__(message)


class ConnectionFailed(MailflowError):
    """A mail server could not be reached, or refused the login.

    ``refused``: the server answered and said no (a login, a certificate): waiting
    will not help, unlike an outage."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        self.refused = refused
        super().__init__(message)


class MailboxError(MailflowError):
    """An IMAP command failed in a way that is not a connection problem."""


class TokenError(ConnectionFailed):
    """No access token could be had from the OAuth 2.0 token endpoint; the message says
    what to do (a new client secret, `mailflow auth login` again, ...). ``refused``: the
    endpoint said no (a person must act), rather than could not be reached."""

    def __init__(self, message: str, *, refused: bool = True) -> None:
        super().__init__(message)
        self.refused = refused
