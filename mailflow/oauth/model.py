"""The values the OAuth 2.0 modules pass around, kept apart from Authlib so that
importing the adapters (and every command) does not import the HTTP client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Token:
    access_token: str = field(repr=False)
    expires_in: float
    scope: str


class Grant(Protocol):
    """One way to get an access token (``grants.py``)."""

    account: str
    token_url: str

    async def fetch(self) -> Token: ...
