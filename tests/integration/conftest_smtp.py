"""SMTP test fixtures, as a pytest plugin module.

Used by ``tests/integration/smtp/conftest.py``; other suites (dispatch,
end-to-end) can list ``"conftest_smtp"`` in a top-level ``pytest_plugins`` or
import the fixtures they need the same way.

- ``smtp_certs`` (session): a test CA and a server certificate for 127.0.0.1.
- ``smtp_server``: plain SMTP, no login.
- ``smtp_tls_server``: implicit TLS, login required (``smtp_login``).
- ``smtp_starttls_server``: STARTTLS required, login required.
- ``smtp_login``: ``(username, password, env name)``; the password is in the env.
- ``smtp_settings``: ``smtp_settings(server, **overrides) -> SmtpSettings``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from smtp_server import RecordingSmtpServer, TestCerts, make_test_certs

from mailflow.config import SmtpSettings

SmtpLogin = tuple[str, str, str]
SettingsFactory = Callable[..., SmtpSettings]


@pytest.fixture(scope="session")
def smtp_certs(tmp_path_factory: pytest.TempPathFactory) -> TestCerts:
    return make_test_certs(tmp_path_factory.mktemp("smtp-certs"))


@pytest.fixture
def smtp_login(monkeypatch: pytest.MonkeyPatch) -> SmtpLogin:
    password = "pw-" + secrets.token_urlsafe(12)
    monkeypatch.setenv("MAILFLOW_TEST_SMTP_PASSWORD", password)
    return ("mailflow@example.org", password, "MAILFLOW_TEST_SMTP_PASSWORD")


@pytest.fixture
def smtp_server() -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer() as server:
        yield server


@pytest.fixture
def smtp_tls_server(smtp_certs: TestCerts, smtp_login: SmtpLogin) -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer(
        tls=smtp_certs.server_context(), auth=smtp_login[:2]
    ) as server:
        yield server


@pytest.fixture
def smtp_starttls_server(
    smtp_certs: TestCerts, smtp_login: SmtpLogin
) -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer(
        starttls=smtp_certs.server_context(), require_starttls=True, auth=smtp_login[:2]
    ) as server:
        yield server


@pytest.fixture
def smtp_settings(smtp_certs: TestCerts, smtp_login: SmtpLogin) -> SettingsFactory:
    """Settings that reach ``server``: its security, the test CA, the login if it needs one."""

    def make(server: RecordingSmtpServer, **overrides: Any) -> SmtpSettings:
        values: dict[str, Any] = {
            "host": server.host,
            "port": server.port,
            "security": "none",
            "timeout_seconds": 5.0,
            "max_connections": 1,
        }
        if server.auth is not None:
            values |= {"username": smtp_login[0], "password_env": smtp_login[2]}
        if server.tls or server.starttls:
            values |= {
                "security": "tls" if server.tls else "starttls",
                "ca_file": smtp_certs.ca_file,
            }
        values.update(overrides)
        return SmtpSettings.model_validate(values)

    return make
