"""Each grant end to end through the CLI: a refresh token from `mailflow auth login`
(the device flow) rotated by the server and kept across restarts; a Google service
account with domain-wide delegation; Google's loopback-redirect login."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey
from oauth_helpers import SECRET_ENV, START, Mailbox, custom_toml, oauth_program
from programs import Program
from smtp_server import RecordingSmtpServer

from mailflow.cli import main
from mailflow.oauth.cache import TokenCache
from mailflow.oauth.login import login
from mailflow.oauth.tokens import TokenSource

pytestmark = pytest.mark.timeout(60)
NOW = f"{START.isoformat()}T18:00"


def _cli(program: Program, *args: str) -> Result:
    return CliRunner().invoke(main, ["-c", str(program.config), "--now", NOW, *args])


def _cache(program: Program) -> dict[str, str]:
    return dict(json.loads((program.folder / "mailflow-oauth.json").read_text()))


def test_device_login_then_rotated_refresh_tokens_survive_restarts(
        tmp_path: Path, mailbox: Mailbox, oauth_smtp: RecordingSmtpServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server = mailbox.server
    public = server.add_client(public=True)
    monkeypatch.setattr(server, "auto_approve", mailbox.user)  # the person enters the code
    program = oauth_program(tmp_path / "p", mailbox, oauth_smtp,
                            custom_toml(server, public, grant="refresh_token",
                                        client_secret_env=""))
    monkeypatch.delenv(SECRET_ENV)
    result = _cli(program, "auth", "login")
    assert result.exit_code == 0, result.output
    assert "enter the code" in result.output and f"signed in to {mailbox.user}" in result.output
    first = _cache(program)["refresh_token"]
    assert first in server.refresh_tokens(public.client_id)
    path = program.folder / "mailflow-oauth.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    seen = [first]
    for _ in range(2):  # each command is a fresh process's worth of state: a restart
        sent = _cli(program, "send-due")
        assert sent.exit_code == 0, sent.output
        polled = _cli(program, "poll")
        assert polled.exit_code == 0, polled.output
        current = _cache(program)["refresh_token"]
        assert current not in seen  # rotated by the server, kept at once
        assert server.refresh_tokens(public.client_id) == {current}  # the old ones are dead
        seen.append(current)
    kinds = [m.message()["X-Mailflow-Kind"] for m in oauth_smtp.messages]
    assert kinds.count("intro") == 4 and all(ok for _, ok in oauth_smtp.logins)
    assert [p.name for p in program.folder.iterdir() if p.name.startswith(".mailflow-oauth")] \
        == []  # no temporary file left behind
    status = _cli(program, "auth", "status", "--json")
    assert status.exit_code == 0, status.output
    shown = json.loads(status.output)
    assert shown["account"] == mailbox.user and shown["refresh_token"] == "stored"
    assert shown["expires_at"] and shown["last_refresh"] and shown["signed_in_at"]
    assert not any(token in status.output for token in server.every_token)
    text = _cli(program, "auth", "status").output
    assert "last refresh:" in text and not any(t in text for t in server.every_token)


def test_a_revoked_refresh_token_says_to_log_in_again(
        tmp_path: Path, mailbox: Mailbox, smtp_plain: RecordingSmtpServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server = mailbox.server
    public = server.add_client(public=True)
    monkeypatch.setattr(server, "auto_approve", mailbox.user)
    program = oauth_program(tmp_path / "p", mailbox, smtp_plain,
                            custom_toml(server, public, grant="refresh_token",
                                        client_secret_env=""), smtp_oauth=False)
    assert _cli(program, "auth", "login").exit_code == 0
    server.revoke(public.client_id)
    polled = _cli(program, "poll")
    assert polled.exit_code == 1
    assert "run `mailflow auth login` again" in polled.output
    assert _cli(program, "auth", "login").exit_code == 0
    assert _cli(program, "poll").exit_code == 0




@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_google_service_account_with_domain_wide_delegation(
        tmp_path: Path, mailbox: Mailbox, oauth_smtp: RecordingSmtpServer,
        mechanism: str) -> None:
    server = mailbox.server
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = RSAKey.import_key(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    account = server.add_client({mailbox.user}, public_key=public)
    # the service account's email is its client id on the test server
    (tmp_path / "sa.json").write_text(json.dumps({
        "type": "service_account", "client_email": account.client_id,
        "client_id": "1234567890", "private_key_id": "k1",
        "private_key": key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode(),
        "token_uri": f"{server.url}/token"}))
    toml = ('[oauth2]\nprovider = "google"\ngrant = "service_account"\n'
            f'service_account_file = "{tmp_path / "sa.json"}"\nmechanism = "{mechanism}"\n')
    program = oauth_program(tmp_path / "p", mailbox, oauth_smtp, toml)
    before = server.issued["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert _cli(program, "send-due").exit_code == 0
    assert _cli(program, "poll").exit_code == 0
    assert server.issued["urn:ietf:params:oauth:grant-type:jwt-bearer"] == before + 2
    kinds = [m.message()["X-Mailflow-Kind"] for m in oauth_smtp.messages]
    assert kinds.count("intro") == 4 and all(ok for _, ok in oauth_smtp.logins)
    # delegation withdrawn for this mailbox: an error that says where to grant it
    server.clients[account.client_id].mailboxes.clear()
    polled = _cli(program, "poll")
    assert polled.exit_code == 1 and "Domain-wide delegation" in polled.output


async def test_google_loopback_login(tmp_path: Path, mailbox: Mailbox,
                                     smtp_plain: RecordingSmtpServer,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    server = mailbox.server
    monkeypatch.setattr(server, "auto_approve", mailbox.user)
    toml = custom_toml(server, mailbox.client, provider="google", grant="refresh_token",
                       authorization_url=f"{server.url}/authorize")
    program = oauth_program(tmp_path / "p", mailbox, smtp_plain, toml, smtp_oauth=False)
    app = program.app()
    oauth, account = app.oauth_account()
    said: list[str] = []

    def browser(url: str) -> None:  # the person's browser: consent, then the redirect
        assert "code_challenge=" in url and "access_type=offline" in url
        with urllib.request.urlopen(url, timeout=10) as page:
            assert b"Signed in" in page.read()

    result = await login(oauth, account, app.token_cache(), said.append, open_browser=browser)
    assert result.account == mailbox.user
    assert app.token_cache().read()["refresh_token"] in server.refresh_tokens(
        mailbox.client.client_id)
    assert any("Open this address" in line for line in said)
    report, _ = await app.poll()
    assert report.connection_error == ""


def test_an_unreachable_token_endpoint_is_an_outage_not_a_refusal(
        tmp_path: Path, mailbox: Mailbox, smtp_plain: RecordingSmtpServer) -> None:
    from smtp_server import free_port

    toml = custom_toml(mailbox.server, mailbox.client,
                       token_url=f"http://127.0.0.1:{free_port()}/token")
    program = oauth_program(tmp_path / "p", mailbox, smtp_plain, toml, smtp_oauth=False)
    polled = _cli(program, "poll")
    assert polled.exit_code == 1
    assert "cannot reach the OAuth 2.0 token endpoint" in polled.output
    status = json.loads(_cli(program, "status", "--json").output)
    assert "cannot reach" in status["health"]["last_error"]
    # an outage alerts after [schedule].alert_after_minutes, like any IMAP outage
    assert not [m for m in smtp_plain.messages if m.message()["X-Mailflow-Kind"] == "alert"]
    assert "cannot reach" in (_cli(program, "auth", "status").output)


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_refresh_token_grant_with_each_mechanism(
        tmp_path: Path, mailbox: Mailbox, oauth_smtp: RecordingSmtpServer,
        monkeypatch: pytest.MonkeyPatch, mechanism: str) -> None:
    server = mailbox.server
    monkeypatch.setattr(server, "auto_approve", mailbox.user)
    program = oauth_program(tmp_path / "p", mailbox, oauth_smtp,
                            custom_toml(server, mailbox.client, grant="refresh_token",
                                        mechanism=mechanism))
    assert _cli(program, "auth", "login").exit_code == 0
    assert _cli(program, "send-due").exit_code == 0
    assert _cli(program, "poll").exit_code == 0
    kinds = [m.message()["X-Mailflow-Kind"] for m in oauth_smtp.messages]
    assert kinds.count("intro") == 4 and all(ok for _, ok in oauth_smtp.logins)


async def test_two_processes_never_spend_the_same_rotating_refresh_token(
        tmp_path: Path, mailbox: Mailbox, oauth_settings: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The service and a `mailflow poll` refresh at the same moment: each has its own
    cache object (its own lock file descriptor), as two processes would."""
    server = mailbox.server
    monkeypatch.setattr(server, "auto_approve", mailbox.user)
    settings = oauth_settings(grant="refresh_token")
    path = tmp_path / "mailflow-oauth.json"
    await login(settings, mailbox.user, TokenCache(path), lambda _: None)
    sources = [TokenSource(settings, mailbox.user, TokenCache(path)) for _ in range(4)]
    tokens = await asyncio.gather(*(source.token() for source in sources))
    assert len(set(tokens)) == 4 and all(server.check(t) == mailbox.user for t in tokens)
    assert server.refresh_tokens(mailbox.client.client_id) == {
        TokenCache(path).read()["refresh_token"]}


def test_when_both_servers_need_the_refused_token_the_alert_waits_for_sending(
        tmp_path: Path, mailbox: Mailbox, oauth_smtp: RecordingSmtpServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No channel works while the secret is refused: the one alert is queued (status
    and the log say it at once) and goes out, with its end, once a secret works."""
    program = oauth_program(tmp_path / "p", mailbox, oauth_smtp,
                            custom_toml(mailbox.server, mailbox.client))
    new_secret = mailbox.server.set_secret(mailbox.client.client_id)
    for command in ("send-due", "poll", "send-due", "poll"):
        result = _cli(program, command)
        assert result.exit_code == 1 and "MAILFLOW_TEST_OAUTH_SECRET" in result.output
    outbox = json.loads(_cli(program, "export", "outbox", "--format", "json").output)
    assert [e["kind"] for e in outbox if e["kind"] == "alert"] == ["alert"]
    status = json.loads(_cli(program, "status", "--json").output)
    assert "invalid_client" in status["health"]["last_error"]
    monkeypatch.setenv(SECRET_ENV, new_secret)
    assert _cli(program, "send-due").exit_code == 0
    alerts = [m.message() for m in oauth_smtp.messages
              if m.message()["X-Mailflow-Kind"] == "alert"]
    assert len(alerts) == 2, [a["Subject"] for a in alerts]  # the outage, and its end


def test_check_signs_in_to_both_servers_with_oauth(
        tmp_path: Path, mailbox: Mailbox, oauth_smtp: RecordingSmtpServer) -> None:
    program = oauth_program(tmp_path / "p", mailbox, oauth_smtp,
                            custom_toml(mailbox.server, mailbox.client, provider="microsoft",
                                        tenant="contoso"))
    checked = _cli(program, "check")
    assert checked.exit_code == 0, checked.output
    assert "[smtp]: signed in" in checked.output and "[imap]: signed in" in checked.output
    assert oauth_smtp.logins == [(mailbox.user, True)]
    mailbox.server.set_secret(mailbox.client.client_id)
    checked = _cli(program, "check")
    assert checked.exit_code == 1
    assert "[smtp] sign-in failed" in checked.output and "[imap] sign-in failed" in checked.output
    assert "Entra admin center" in checked.output
    assert "Entra admin center" in _cli(program, "run").output  # refused: run stops at once
