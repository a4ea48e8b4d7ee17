"""The tables of the mail servers: ``[smtp]``, ``[imap]``, and ``[oauth2]``, how mailflow
gets the tokens it signs in to them with. Secrets are never in the file: ``password_env``
and ``client_secret_env`` name environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from mailflow.config.checks import Port, Section, Security, check_token_url
from mailflow.errors import ConfigError


class _ServerSettings(Section):
    host: str = Field(min_length=1)
    port: Port
    security: Security = "tls"
    auth: Literal["password", "oauth2"] = "password"
    username: str | None = None
    password_env: str | None = None
    ca_file: Path | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)

    def password(self) -> str | None:
        """The secret, read from the environment variable named by ``password_env``;
        None without a ``username`` (a server that takes no login) or with "oauth2"."""
        if not self.password_env or not self.username or self.auth == "oauth2":
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise ConfigError(
                f"the environment variable {self.password_env} (named by password_env) is not set"
            )
        return value

    @model_validator(mode="after")
    def _login_needs_password(self) -> _ServerSettings:
        if self.auth == "oauth2":
            if not self.username:
                raise ValueError('auth = "oauth2" needs username: the mailbox to sign in to, '
                                 'e.g. "mentoring@example.org"')
            return self
        if self.username and not self.password_env:
            raise ValueError(
                "username is set but password_env is not: name the environment variable "
                "that holds the password"
            )
        return self


class SmtpSettings(_ServerSettings):
    max_connections: int = Field(default=4, ge=1, le=64)
    rate_per_minute: int = Field(default=0, ge=0)  # 0: no limit


class ImapSettings(_ServerSettings):
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    poll_seconds: float = Field(default=60, gt=0)
    trusted_authserv_id: str | None = None
    batch_size: int = Field(default=500, ge=1, le=5000)


class OAuth2Settings(Section):
    """``[oauth2]``: how mailflow gets the tokens it signs in with (SPEC section 9)."""

    provider: Literal["microsoft", "google", "custom"]
    tenant: str | None = None
    client_id: str | None = None
    client_secret_env: str | None = None
    grant: Literal["client_credentials", "refresh_token", "service_account"]
    service_account_file: Path | None = None
    token_url: str | None = None
    device_authorization_url: str | None = None
    authorization_url: str | None = None
    scope: str | None = None
    mechanism: Literal["XOAUTH2", "OAUTHBEARER"] = "XOAUTH2"
    token_cache: Path = Path("mailflow-oauth.json")

    def client_secret(self) -> str | None:
        """The app's secret, read from the environment variable named by ``client_secret_env``."""
        if not self.client_secret_env:
            return None
        value = os.environ.get(self.client_secret_env)
        if not value:
            raise ConfigError(f"the environment variable {self.client_secret_env} (named by "
                              "[oauth2].client_secret_env) is not set")
        return value

    @field_validator("token_url", "device_authorization_url", "authorization_url")
    @classmethod
    def _https_or_loopback(cls, value: str | None) -> str | None:
        if value is not None:
            check_token_url(value)
        return value

    @model_validator(mode="after")
    def _grant_fits_provider(self) -> OAuth2Settings:
        needs: list[str] = []
        grants = _GRANTS[self.provider]
        if self.grant not in grants:
            raise ValueError(f'grant "{self.grant}" is not available with provider '
                             f'"{self.provider}"; expected one of {", ".join(grants)}')
        if self.provider == "microsoft" and not self.tenant:
            needs.append("tenant (the directory (tenant) ID of the app registration)")
        if self.provider == "custom" and not self.token_url:
            needs.append("token_url (the server's RFC 6749 token endpoint)")
        if self.grant == "service_account":
            if not self.service_account_file:
                needs.append("service_account_file (the JSON key of the service account)")
        elif not self.client_id:
            needs.append("client_id")
        if self.grant == "client_credentials" and not self.client_secret_env:
            needs.append("client_secret_env (the variable that holds the client secret)")
        if needs:
            raise ValueError(f'provider "{self.provider}" with grant "{self.grant}" needs '
                             + " and ".join(needs))
        return self


_GRANTS = {
    "microsoft": ("client_credentials", "refresh_token"),
    "google": ("service_account", "refresh_token"),
    "custom": ("client_credentials", "refresh_token"),
}
