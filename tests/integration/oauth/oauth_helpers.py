"""Helpers of the OAuth 2.0 tests (fixtures in conftest.py beside this file)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent.parent
for _folder in (str(_HERE), str(_HERE / "program")):
    if _folder not in sys.path:
        sys.path.insert(0, _folder)

from dovecot import ImapAccount  # noqa: E402
from oauth_server import Client, OAuthServer  # noqa: E402
from programs import Program, make_program  # noqa: E402
from smtp_server import RecordingSmtpServer  # noqa: E402

from mailflow.config import ImapSettings, SmtpSettings  # noqa: E402

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

