"""Fixtures for the OAuth 2.0 tests: the session's authorization server
(``oauth_server.py``, fixture ``oauth_server`` in tests/conftest.py), whose tokens the
session's Dovecot checks by introspection, and an aiosmtpd server that takes them.

- ``mailbox``: a fresh Dovecot user (``imap_account``) and an app allowed to open it
  (``client``: client_credentials), its secret in $MAILFLOW_TEST_OAUTH_SECRET.
- ``oauth_smtp``: a RecordingSmtpServer that accepts AUTH XOAUTH2 and OAUTHBEARER only
  with a live token of ``oauth_server``.
- ``oauth_settings(**overrides)``: ``[oauth2]`` for the custom provider on that server.
- ``oauth_program(folder, mailbox, smtp, oauth_toml, smtp_oauth=...)``: a program folder
  (tests/integration/program/programs.py) signing in to Dovecot (and to ``smtp``
  when ``smtp_oauth``) with OAuth 2.0.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from dovecot import ImapAccount  # noqa: E402
from oauth_helpers import SECRET_ENV, Mailbox  # noqa: E402
from oauth_server import OAuthServer  # noqa: E402
from smtp_server import RecordingSmtpServer  # noqa: E402

from mailflow.config import OAuth2Settings  # noqa: E402


@pytest.fixture
def mailbox(oauth_server: OAuthServer, imap_account: ImapAccount,
            monkeypatch: pytest.MonkeyPatch) -> Mailbox:
    # tokens that outlive a test, unless it shortens them (client.lifetime)
    client = oauth_server.add_client({imap_account.username}, lifetime=60)
    monkeypatch.setenv(SECRET_ENV, client.secret or "")
    return Mailbox(imap_account, client, oauth_server)


@pytest.fixture
def oauth_smtp(oauth_server: OAuthServer) -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer(oauth=oauth_server.check) as server:
        yield server


@pytest.fixture
def oauth_settings(oauth_server: OAuthServer,
                   mailbox: Mailbox) -> Callable[..., OAuth2Settings]:
    def make(**overrides: Any) -> OAuth2Settings:
        values: dict[str, Any] = {
            "provider": "custom", "grant": "client_credentials",
            "token_url": f"{oauth_server.url}/token", "client_id": mailbox.client.client_id,
            "client_secret_env": SECRET_ENV,
            "device_authorization_url": f"{oauth_server.url}/device",
        }
        values.update(overrides)
        return OAuth2Settings.model_validate(values)

    return make


@pytest.fixture
def smtp_plain() -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer() as server:
        yield server
