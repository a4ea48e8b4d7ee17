"""``mailflow auth login``: get a refresh token once, by the person who owns the mailbox.

- The device flow (RFC 8628; ``microsoft`` and ``custom``): mailflow prints a code and
  where to enter it, then polls the token endpoint until the person has signed in.
- The installed-app flow (``google``): a browser goes to the authorization URL and is
  sent back to a one-shot HTTP listener on 127.0.0.1 with the code (PKCE, S256).

The refresh token is written to the token cache (atomically, 0600); nothing is printed
of it. Other grants need no sign-in: ``login`` then fetches one token to show it works.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from authlib.integrations.httpx_client import OAuthError

from mailflow.config import OAuth2Settings
from mailflow.errors import TokenError
from mailflow.oauth.cache import TokenCache
from mailflow.oauth.grants import ClientCredentials, oauth_client
from mailflow.oauth.presets import Endpoints, endpoints
from mailflow.oauth.tokens import TokenSource

log = logging.getLogger("mailflow.oauth")
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
Say = Callable[[str], None]


@dataclass(frozen=True)
class LoginResult:
    account: str
    scope: str
    expires_at: str


def _now() -> datetime:
    return datetime.now(UTC)


async def login(settings: OAuth2Settings, account: str, cache: TokenCache, say: Say, *,
                open_browser: Callable[[str], Any] | None = None,
                timeout: float = 900.0) -> LoginResult:
    """Sign in as the grant needs; the refresh token (if any) ends up in ``cache``."""
    if settings.grant != "refresh_token":
        source = TokenSource(settings, account, cache)
        await source.token()
        say(f'grant "{settings.grant}" needs no sign-in by a person: a token for {account} '
            "was fetched just now, so the settings work")
        record = cache.read()
        return LoginResult(account, str(record.get("scope", "")),
                           str(record.get("expires_at", "")))
    ends = endpoints(settings)
    if settings.provider == "google" or not ends.device_authorization_url:
        got = await _loopback(settings, ends, say, open_browser, timeout)
    else:
        got = await _device(settings, ends, say, timeout)
    refresh = got.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        raise TokenError("the server gave no refresh token: for Microsoft the scope must "
                         "include offline_access; for Google the consent screen must be shown "
                         "again (remove the app's access in the Google account and retry)")
    now = _now()
    expires = now + timedelta(seconds=float(got.get("expires_in") or 3600))
    scope = str(got.get("scope") or ends.scope)
    async with cache.locked():  # not in the middle of a running service's refresh
        cache.update(refresh_token=refresh, account=account, provider=settings.provider,
                     client_id=settings.client_id, grant=settings.grant, scope=scope,
                     signed_in_at=now.isoformat(timespec="seconds"),
                     last_refresh=now.isoformat(timespec="seconds"),
                     expires_at=expires.isoformat(timespec="seconds"), last_error=None)
    log.info("oauth: signed in as %s; refresh token kept in %s", account, cache.path)
    return LoginResult(account, scope, expires.isoformat(timespec="seconds"))


def _refused(ends: Endpoints, exc: OAuthError) -> TokenError:
    said = f"{exc.error}: {exc.description}" if exc.description else str(exc.error)
    return TokenError(f"the sign-in was refused by {ends.token_url} ({said})")


async def _device(settings: OAuth2Settings, ends: Endpoints, say: Say,
                  timeout: float) -> dict[str, Any]:
    assert ends.device_authorization_url and ends.token_url
    helper = ClientCredentials(settings, ends, "")  # for its error mapping
    async with oauth_client(settings, ends) as client:
        response = await client.request("POST", ends.device_authorization_url,
                                        withhold_token=True, data={
            "client_id": settings.client_id or "", "scope": ends.scope})
        try:
            grant: dict[str, Any] = dict(response.json())
        except ValueError:
            grant = {}
        if response.status_code != 200 or "device_code" not in grant:
            raise TokenError(f"the device authorization endpoint "
                             f"{ends.device_authorization_url} refused ({response.status_code} "
                             f"{grant.get('error', '')}): check [oauth2].client_id and that "
                             "the app allows public client flows")
        where = grant.get("verification_uri") or grant.get("verification_url")
        say(f"To sign in, open {where} in a browser and enter the code {grant['user_code']}")
        say(f"(sign in as the program's mailbox; waiting up to "
            f"{int(float(grant.get('expires_in', timeout)))} s)")
        interval = float(grant.get("interval") or 5)
        deadline = time.monotonic() + min(timeout, float(grant.get("expires_in") or timeout))
        while time.monotonic() < deadline:
            await asyncio.sleep(interval)
            try:
                return dict(await helper.call(client.fetch_token(
                    ends.token_url, grant_type=DEVICE_GRANT, device_code=grant["device_code"])))
            except TokenError as exc:
                if "authorization_pending" in str(exc):
                    continue
                if "slow_down" in str(exc):
                    interval += 5
                    continue
                raise
    raise TokenError("nobody entered the code in time: run `mailflow auth login` again")


async def _loopback(settings: OAuth2Settings, ends: Endpoints, say: Say,
                    open_browser: Callable[[str], Any] | None,
                    timeout: float) -> dict[str, Any]:
    if not ends.authorization_url or not ends.token_url:
        raise TokenError("set [oauth2].device_authorization_url (or authorization_url) "
                         "to sign in")
    arrived: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = (await reader.readline()).decode("latin-1").split()
        body = b"Signed in: you may close this window and return to mailflow.\n"
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        writer.close()
        if len(line) > 1 and "code=" in line[1] and not arrived.done():
            arrived.set_result(line[1])

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    redirect = f"http://127.0.0.1:{port}/"
    verifier = secrets.token_urlsafe(48)
    try:
        async with oauth_client(settings, ends, redirect_uri=redirect,
                                code_challenge_method="S256") as client:
            url, state = client.create_authorization_url(
                ends.authorization_url, code_verifier=verifier, access_type="offline",
                prompt="consent")
            say(f"Open this address in a browser and sign in as the program's mailbox:\n{url}")
            if open_browser is not None:
                await asyncio.to_thread(open_browser, url)
            try:
                path = await asyncio.wait_for(arrived, timeout)
            except TimeoutError:
                raise TokenError("no sign-in arrived in time: run `mailflow auth login` "
                                 "again") from None
            query = parse_qs(urlsplit(path).query)
            if query.get("state", [""])[0] != state:
                raise TokenError("the sign-in came back with the wrong state; try again")
            try:
                got = await client.fetch_token(
                    ends.token_url, grant_type="authorization_code",
                    code=query["code"][0], code_verifier=verifier, redirect_uri=redirect)
            except OAuthError as exc:
                raise _refused(ends, exc) from None
            return dict(got)
    finally:
        server.close()
        await server.wait_closed()
