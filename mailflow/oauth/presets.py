"""What each provider's endpoints and default scopes are; ``[oauth2]`` keys override them."""

from __future__ import annotations

from dataclasses import dataclass

from mailflow.config import OAuth2Settings

MICROSOFT = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/"
MICROSOFT_APP_SCOPE = "https://outlook.office365.com/.default"
MICROSOFT_USER_SCOPE = ("https://outlook.office365.com/IMAP.AccessAsUser.All "
                        "https://outlook.office365.com/SMTP.Send offline_access")
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GOOGLE_AUTHORIZATION_URL = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_SCOPE = "https://mail.google.com/"


@dataclass(frozen=True)
class Endpoints:
    token_url: str | None
    device_authorization_url: str | None
    authorization_url: str | None
    scope: str


def endpoints(settings: OAuth2Settings) -> Endpoints:
    """The URLs and scope to use: the provider's, each replaced by its key when set."""
    preset = _preset(settings)
    return Endpoints(
        token_url=settings.token_url or preset.token_url,
        device_authorization_url=(settings.device_authorization_url
                                  or preset.device_authorization_url),
        authorization_url=settings.authorization_url or preset.authorization_url,
        scope=settings.scope if settings.scope is not None else preset.scope,
    )


def _preset(settings: OAuth2Settings) -> Endpoints:
    if settings.provider == "microsoft":
        base = MICROSOFT.format(tenant=settings.tenant or "organizations")
        scope = (MICROSOFT_APP_SCOPE if settings.grant == "client_credentials"
                 else MICROSOFT_USER_SCOPE)
        return Endpoints(base + "token", base + "devicecode", base + "authorize", scope)
    if settings.provider == "google":
        # Google's device flow does not allow the mail scope: login uses a loopback redirect
        return Endpoints(GOOGLE_TOKEN_URL, None, GOOGLE_AUTHORIZATION_URL, GOOGLE_SCOPE)
    return Endpoints(None, None, None, "")
