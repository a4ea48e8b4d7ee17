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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_HERE = Path(__file__).resolve().parent.parent
for _folder in (str(_HERE), str(_HERE / "program")):
    if _folder not in sys.path:
        sys.path.insert(0, _folder)

from datetime import date  # noqa: E402

from dovecot import ImapAccount  # noqa: E402
from oauth_server import Client, OAuthServer  # noqa: E402
from programs import Program, make_program  # noqa: E402
from smtp_server import RecordingSmtpServer  # noqa: E402

from mailflow.config import ImapSettings, OAuth2Settings, SmtpSettings  # noqa: E402

SECRET_ENV = "MAILFLOW_TEST_OAUTH_SECRET"


@dataclass
class Mailbox:
    account: ImapAccount
    client: Client
    server: OAuthServer

    @property
    def user(self) -> str:
        return self.account.username

    def imap(self, **overrides: Any) -> ImapSettings:
        values: dict[str, Any] = {"auth": "oauth2", "password_env": None}
        values.update(overrides)
        return self.account.settings(**values)

    def smtp(self, server: RecordingSmtpServer, **overrides: Any) -> SmtpSettings:
        values: dict[str, Any] = {"host": server.host, "port": server.port, "security": "none",
                                  "auth": "oauth2", "username": self.user,
                                  "timeout_seconds": 5.0, "max_connections": 1}
        values.update(overrides)
        return SmtpSettings.model_validate(values)


@pytest.fixture
def mailbox(oauth_server: OAuthServer, imap_account: ImapAccount,
            monkeypatch: pytest.MonkeyPatch) -> Mailbox:
    client = oauth_server.add_client({imap_account.username})
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


START = date(2027, 1, 4)
ROWS = [
    "A,Ann Mentor,ann@lib.example,Zoë Ñúñez,zoe@lib.example,Lia One,l1@lib.example,,,",
    "B,Bob Mentor,bob@lib.example,Ben Mentee,ben@lib.example,Lia One,l1@lib.example,,,",
]


def custom_toml(server: OAuthServer, client: Client, **overrides: str) -> str:
    values = {"provider": "custom", "grant": "client_credentials",
              "token_url": f"{server.url}/token",
              "device_authorization_url": f"{server.url}/device",
              "client_id": client.client_id, "client_secret_env": SECRET_ENV}
    values.update(overrides)
    return "[oauth2]\n" + "".join(f'{k} = "{v}"\n' for k, v in values.items() if v)


def oauth_program(folder: Path, mailbox: Mailbox, smtp: RecordingSmtpServer, oauth_toml: str,
                  *, smtp_oauth: bool = True, poll_seconds: float = 60) -> Program:
    imap = mailbox.account.settings()
    block = (f'[imap]\npoll_seconds = {poll_seconds}\nhost = "{imap.host}"\nport = {imap.port}\n'
             f'security = "tls"\nauth = "oauth2"\nusername = "{mailbox.user}"\n'
             f'ca_file = "{imap.ca_file}"\ntimeout_seconds = 10\n\n{oauth_toml}')
    program = make_program(folder, start=START, rows=ROWS, smtp_port=smtp.port, imap=block)
    if smtp_oauth:
        text = program.config.read_text()
        program.config.write_text(text.replace(
            "timeout_seconds = 5\n", f'timeout_seconds = 5\nauth = "oauth2"\nusername = '
            f'"{mailbox.user}"\n', 1))
    return program


@pytest.fixture
def smtp_plain() -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer() as server:
        yield server
