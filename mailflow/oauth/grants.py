"""One token request per grant, made by Authlib over httpx2; failures say what to do.

- ``client_credentials`` (RFC 6749 4.4): the app's own token (Microsoft app-only).
- ``refresh_token`` (RFC 6749 6): the refresh token ``mailflow auth login`` stored in
  the token cache; a new one the server returns (rotation) replaces it at once.
- ``service_account``: a JWT signed with the service account's key, naming the
  mailbox as its subject (RFC 7523, Google's domain-wide delegation).

Access tokens are returned, never logged or written anywhere.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from authlib.integrations.httpx_client import (
    AsyncAssertionClient,
    AsyncOAuth2Client,
    OAuthError,
)
from joserfc.jwk import RSAKey

from mailflow.config import OAuth2Settings, check_token_url
from mailflow.errors import ConfigError, TokenError
from mailflow.oauth.cache import TokenCache
from mailflow.oauth.model import Grant, Token
from mailflow.oauth.presets import GOOGLE_TOKEN_URL, Endpoints, endpoints

log = logging.getLogger("mailflow.oauth")
TIMEOUT = 30.0
DEFAULT_LIFETIME = 3600.0  # seconds, when the server does not say (RFC 6749 5.1)


def make_grant(settings: OAuth2Settings, account: str, cache: TokenCache) -> Grant:
    ends = endpoints(settings)
    if settings.grant == "client_credentials":
        return ClientCredentials(settings, ends, account)
    if settings.grant == "refresh_token":
        return RefreshToken(settings, ends, account, cache)
    return ServiceAccount(settings, ends, account)


def oauth_client(settings: OAuth2Settings, ends: Endpoints,
                 **kwargs: Any) -> AsyncOAuth2Client:
    """An Authlib client for the app: the secret in the form body (every provider takes
    that), or no client authentication for a public client."""
    try:
        secret = settings.client_secret()
    except ConfigError as exc:  # a missing variable: a person must act, as for a refusal
        raise TokenError(str(exc)) from None
    return AsyncOAuth2Client(
        client_id=settings.client_id, client_secret=secret, scope=ends.scope or None,
        token_endpoint_auth_method="client_secret_post" if secret else "none",
        timeout=TIMEOUT, **kwargs)


def _token(got: dict[str, Any], scope: str) -> Token:
    access = got.get("access_token")
    if not isinstance(access, str) or not access:
        raise TokenError("the token endpoint answered without an access_token")
    try:
        expires_in = float(got.get("expires_in") or DEFAULT_LIFETIME)
    except (TypeError, ValueError):
        expires_in = DEFAULT_LIFETIME
    return Token(access, max(expires_in, 1.0), str(got.get("scope") or scope))


class _Base:
    def __init__(self, settings: OAuth2Settings, ends: Endpoints, account: str) -> None:
        self.settings = settings
        self.ends = ends
        self.account = account
        self.token_url = ends.token_url or ""

    async def call(self, request: Any) -> dict[str, Any]:
        """Await an Authlib token request; every failure becomes a TokenError."""
        try:
            got = await request
        except OAuthError as exc:
            raise TokenError(self.refused(str(exc.error), str(exc.description or ""))) from None
        except httpx2.HTTPStatusError as exc:
            raise TokenError(
                f"the OAuth 2.0 token endpoint {self.token_url} answered HTTP "
                f"{exc.response.status_code}; the token is asked for again at the next pass",
                refused=False) from None
        except (httpx2.HTTPError, OSError) as exc:
            raise TokenError(
                f"cannot reach the OAuth 2.0 token endpoint {self.token_url} "
                f"({type(exc).__name__}: {exc}); the token is asked for again at the next pass",
                refused=False) from None
        return dict(got)

    def refused(self, error: str, description: str) -> str:
        said = f"{error}: {description}" if description else error
        return (f"the OAuth 2.0 token endpoint {self.token_url} refused to give a token for "
                f"{self.account} ({said}): {self.advice(error)}")

    def advice(self, error: str) -> str:
        s = self.settings
        if error == "invalid_client" and s.provider == "microsoft":
            return ("the app's client secret was refused (wrong or expired): create a new one "
                    "in the Entra admin center (App registrations > the app > Certificates & "
                    f"secrets) and put it in {s.client_secret_env}")
        if error == "invalid_client":
            return (f"the client was refused: check [oauth2].client_id ({s.client_id}) and the "
                    f"secret in {s.client_secret_env}")
        if error == "invalid_scope":
            return f"the scope {self.ends.scope!r} was refused: check [oauth2].scope"
        if error in ("unauthorized_client", "access_denied"):
            return "the app is not allowed this grant: check the app's permissions and consent"
        return "check the [oauth2] settings and the app's permissions"


class ClientCredentials(_Base):
    async def fetch(self) -> Token:
        async with oauth_client(self.settings, self.ends) as client:
            got = await self.call(client.fetch_token(self.token_url,
                                                      grant_type="client_credentials"))
        return _token(got, self.ends.scope)

    def advice(self, error: str) -> str:
        if error == "invalid_grant" and self.settings.provider == "microsoft":
            return ("grant the app the Office 365 Exchange Online application permissions "
                    "IMAP.AccessAsApp and SMTP.SendAsApp with admin consent")
        return super().advice(error)


class RefreshToken(_Base):
    def __init__(self, settings: OAuth2Settings, ends: Endpoints, account: str,
                 cache: TokenCache) -> None:
        super().__init__(settings, ends, account)
        self.cache = cache

    async def fetch(self) -> Token:
        async with self.cache.locked():  # one process at a time spends the refresh token
            return await self._fetch()

    async def _fetch(self) -> Token:
        # read just before use: `mailflow auth login` may have replaced it meanwhile
        refresh = self.cache.read().get("refresh_token")
        if not isinstance(refresh, str) or not refresh:
            raise TokenError(f"there is no refresh token in {self.cache.path} yet: run "
                             "`mailflow auth login` once to sign in to the mailbox")
        async with oauth_client(self.settings, self.ends) as client:
            got = await self.call(client.refresh_token(self.token_url, refresh_token=refresh))
        rotated = got.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != refresh:
            self.cache.update(refresh_token=rotated,
                              rotated_at=datetime.now(UTC).isoformat(timespec="seconds"))
            log.info("oauth: the server rotated the refresh token; the new one is kept in %s",
                     self.cache.path)
        return _token(got, self.ends.scope)

    def advice(self, error: str) -> str:
        if error == "invalid_grant":
            return ("the refresh token was refused (consent revoked, the password changed, or "
                    "it expired): run `mailflow auth login` again")
        return super().advice(error)


class ServiceAccount(_Base):
    """Google: a service account with domain-wide delegation acting as the mailbox. The
    key file is read at each refresh (once an hour), so a replaced key is picked up."""

    def __init__(self, settings: OAuth2Settings, ends: Endpoints, account: str) -> None:
        super().__init__(settings, ends, account)
        self.key: dict[str, Any] = {}
        self.token_url = settings.token_url or ends.token_url or GOOGLE_TOKEN_URL

    def _load(self) -> RSAKey:
        self.key = _service_account(self.settings.service_account_file)
        uri = self.settings.token_url or str(self.key.get("token_uri") or GOOGLE_TOKEN_URL)
        try:
            self.token_url = check_token_url(uri)
        except ValueError as exc:
            raise TokenError(f"{self.settings.service_account_file}: token_uri: {exc}") from None
        try:
            return RSAKey.import_key(str(self.key["private_key"]))
        except (ValueError, TypeError) as exc:
            raise TokenError(f"the private_key in {self.settings.service_account_file} cannot "
                             f"be read ({type(exc).__name__}): download a new key") from None

    async def fetch(self) -> Token:
        key = self._load()
        header = {"alg": "RS256", "kid": str(self.key.get("private_key_id", ""))}
        client = AsyncAssertionClient(
            token_endpoint=self.token_url, issuer=str(self.key["client_email"]),
            subject=self.account, audience=self.token_url,
            claims={"scope": self.ends.scope}, key=key, header=header, timeout=TIMEOUT)
        async with client:
            got = await self.call(client.refresh_token())
        return _token(got, self.ends.scope)

    def advice(self, error: str) -> str:
        if error in ("invalid_grant", "unauthorized_client"):
            return (f"the service account {self.key.get('client_email')} may not act for "
                    f"{self.account}: in the Google Admin console (Security > Access and data "
                    "control > API controls > Domain-wide delegation) allow its client ID "
                    f"{self.key.get('client_id')} the scope {self.ends.scope}, and check that "
                    "the mailbox exists and its key is not deleted")
        return super().advice(error)


def _service_account(path: Path | None) -> dict[str, Any]:
    where = f"[oauth2].service_account_file: {path}"
    if path is None:
        raise TokenError("[oauth2].service_account_file is not set")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TokenError(f"{where} does not exist: download the service account's JSON "
                         "key again and put it there") from None
    except (OSError, ValueError) as exc:
        raise TokenError(f"{where} cannot be read as JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise TokenError(f"{where} is not a service account key")
    missing = [k for k in ("client_email", "private_key") if not data.get(k)]
    if missing:
        raise TokenError(f"{where} is not a service account key (no {', '.join(missing)})")
    return data
