"""The access token the adapters sign in with: in memory, refreshed in time.

One ``TokenSource`` per process serves IMAP and SMTP alike (one ``[oauth2]`` table,
one scope covering both). ``token()`` gives a token with some life left, fetching a
new one shortly before the old one expires; ``refused(token)`` is called by an
adapter whose server refused that token, and fetches a new one once (a second
refusal of a fresh token is the adapter's error to report). A refresh that fails
raises ``TokenError`` with what to do; ``failure`` keeps that text until a refresh
succeeds, and it is logged once, its end once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mailflow.config import OAuth2Settings
from mailflow.errors import TokenError
from mailflow.oauth.cache import TokenCache
from mailflow.oauth.model import Grant, Token

log = logging.getLogger("mailflow.oauth")
MAX_MARGIN = 300.0  # refresh at most this many seconds before expiry ...
MARGIN_SHARE = 0.2  # ... or this share of a short token's life


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


class TokenSource:
    def __init__(self, settings: OAuth2Settings, account: str, cache: TokenCache, *,
                 clock: Callable[[], float] = time.time, grant: Grant | None = None) -> None:
        self.settings = settings
        self.account = account
        self.mechanism = settings.mechanism
        self.cache = cache
        if grant is None:  # Authlib and its HTTP client load only when OAuth is used
            from mailflow.oauth.grants import make_grant

            grant = make_grant(settings, account, cache)
        self._grant = grant
        self._clock = clock
        self._token: Token | None = None
        self._expires_at = 0.0
        self._refresh_at = 0.0
        self._locks: dict[int, asyncio.Lock] = {}
        self.failure: str | None = None  # why the last refresh failed, until one succeeds
        self.failure_refused = False  # ... and whether the endpoint said no (a person acts)
        self.refreshes = 0  # tokens fetched
        self.refusals = 0  # tokens a server refused before they expired

    def __repr__(self) -> str:  # never the token
        return f"TokenSource(account={self.account!r}, grant={self.settings.grant!r})"

    def _lock(self) -> asyncio.Lock:
        """One lock per event loop (the CLI runs a loop per command on one App)."""
        loop = id(asyncio.get_running_loop())
        if loop not in self._locks:
            self._locks = {loop: asyncio.Lock()}
        return self._locks[loop]

    async def token(self) -> str:
        """An access token with some life left."""
        async with self._lock():
            if self._token is not None and self._clock() < self._refresh_at:
                return self._token.access_token
            return await self._refresh("expiring" if self._token else "first use")

    async def refused(self, token: str) -> str:
        """The server refused ``token``: a fresh one (unless another sign-in already got one)."""
        async with self._lock():
            if self._token is not None and self._token.access_token != token:
                return self._token.access_token
            self.refusals += 1
            self._token = None
            return await self._refresh("refused by the server")

    async def _refresh(self, why: str) -> str:
        try:
            token = await self._grant.fetch()
        except TokenError as exc:
            if self.failure != str(exc):
                log.error("oauth: no token for %s: %s", self.account, exc)
                self.cache.update(last_error=str(exc), last_error_at=_iso(self._clock()))
            self.failure, self.failure_refused = str(exc), exc.refused
            raise
        now = self._clock()
        life = token.expires_in
        self._token = token
        self._expires_at = now + life
        self._refresh_at = now + life - min(MAX_MARGIN, life * MARGIN_SHARE)
        self.refreshes += 1
        if self.failure is not None:
            log.warning("oauth: tokens for %s can be had again", self.account)
        self.failure, self.failure_refused = None, False
        log.info("oauth: new access token for %s (%s), valid %.0f s", self.account, why, life)
        self.cache.update(account=self.account, grant=self.settings.grant,
                          provider=self.settings.provider, scope=token.scope,
                          last_refresh=_iso(now), expires_at=_iso(self._expires_at),
                          last_error=None, last_error_at=None)
        return token.access_token


def auth_status(settings: OAuth2Settings, cache: TokenCache) -> dict[str, Any]:
    """What ``mailflow auth status`` shows: from the cache, never a token."""
    record = cache.read()
    return {
        "provider": settings.provider,
        "grant": settings.grant,
        "mechanism": settings.mechanism,
        "account": record.get("account"),
        "scope": record.get("scope"),
        "expires_at": record.get("expires_at"),
        "last_refresh": record.get("last_refresh"),
        "signed_in_at": record.get("signed_in_at"),
        "last_error": record.get("last_error"),
        "refresh_token": ("stored" if record.get("refresh_token")
                          else "none: run `mailflow auth login`")
        if settings.grant == "refresh_token" else "not used",
        "token_cache": str(cache.path),
    }
