"""The adapters sign in with OAuth 2.0: IMAP to Dovecot's oauth2 passdb, SMTP to
aiosmtpd, with XOAUTH2 and OAUTHBEARER; a refused token is replaced once; the
password sign-in is untouched."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
from oauth_helpers import Mailbox
from smtp_server import RecordingSmtpServer

from mailflow.adapters.imap import ImapMailbox
from mailflow.adapters.smtp import SmtpSender
from mailflow.config import OAuth2Settings
from mailflow.errors import ConnectionFailed, TokenError
from mailflow.oauth.cache import TokenCache
from mailflow.oauth.tokens import TokenSource
from mailflow.render.mime import OutgoingMessage

pytestmark = pytest.mark.timeout(60)


def _message(to: str) -> OutgoingMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "mentoring@lib.example", to, "hello"
    msg["Message-ID"] = message_id = f"<{time.monotonic_ns()}@lib.example>"
    msg.set_content("hello\n")
    return OutgoingMessage(bytes(msg).replace(b"\n", b"\r\n"), message_id,
                           "mentoring@lib.example", False)


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
async def test_imap_and_smtp_sign_in_with_each_mechanism(
        mechanism: str, mailbox: Mailbox, oauth_smtp: RecordingSmtpServer,
        oauth_settings: Callable[..., OAuth2Settings], tmp_path: Path) -> None:
    tokens = TokenSource(oauth_settings(mechanism=mechanism), mailbox.user,
                         TokenCache(tmp_path / "cache.json"))
    mailbox.account.append([b"Subject: hi\r\n\r\nhello\r\n"])
    asked = mailbox.server.introspections
    async with ImapMailbox(mailbox.imap(), tokens=tokens) as box:
        await box.select()
        assert len(await box.uids_after(0)) == 1
    assert mailbox.server.introspections == asked + 1  # Dovecot checked the token with it
    async with SmtpSender(mailbox.smtp(oauth_smtp), tokens=tokens) as sender:
        await sender.send(_message("zoe@lib.example"), ["zoe@lib.example"])
    assert oauth_smtp.logins == [(mailbox.user, True)]
    assert [m.login for m in oauth_smtp.messages] == [mailbox.user]
    assert tokens.refreshes == 1  # one token served both servers


async def test_a_refused_token_is_replaced_once(
        mailbox: Mailbox, oauth_smtp: RecordingSmtpServer,
        oauth_settings: Callable[..., OAuth2Settings], tmp_path: Path) -> None:
    tokens = TokenSource(oauth_settings(), mailbox.user, TokenCache(tmp_path / "c.json"))
    await tokens.token()
    mailbox.server.revoke(mailbox.client.client_id)  # the token in memory dies early
    async with ImapMailbox(mailbox.imap(), tokens=tokens) as box:
        await box.select()
    assert tokens.refreshes == 2
    mailbox.server.revoke(mailbox.client.client_id)
    async with SmtpSender(mailbox.smtp(oauth_smtp), tokens=tokens) as sender:
        await sender.send(_message("zoe@lib.example"), ["zoe@lib.example"])
    assert oauth_smtp.logins == [(mailbox.user, False), (mailbox.user, True)]
    assert tokens.refreshes == 3


async def test_a_token_for_another_mailbox_is_refused_with_a_clear_error(
        mailbox: Mailbox, oauth_smtp: RecordingSmtpServer,
        oauth_settings: Callable[..., OAuth2Settings], tmp_path: Path) -> None:
    other, _ = mailbox.account.server.add_user()
    tokens = TokenSource(oauth_settings(), other, TokenCache(tmp_path / "c.json"))
    with pytest.raises(ConnectionFailed, match=r"refused the OAuth 2\.0 sign-in") as imap_error:
        async with ImapMailbox(mailbox.imap(username=other), tokens=tokens):
            pass
    assert "AUTHENTICATIONFAILED" in str(imap_error.value)
    with pytest.raises(ConnectionFailed, match=r"refused the OAuth 2\.0 sign-in") as smtp_error:
        async with SmtpSender(mailbox.smtp(oauth_smtp, username=other), tokens=tokens) as s:
            await s.send(_message("zoe@lib.example"), ["zoe@lib.example"])
    assert "invalid_token" in str(smtp_error.value)
    assert tokens.refreshes == 3  # the first, and one more after each refusal


async def test_a_refused_client_secret_says_what_to_do(
        mailbox: Mailbox, oauth_settings: Callable[..., OAuth2Settings],
        tmp_path: Path) -> None:
    mailbox.server.set_secret(mailbox.client.client_id)
    tokens = TokenSource(oauth_settings(provider="microsoft", tenant="contoso"), mailbox.user,
                         TokenCache(tmp_path / "c.json"))
    with pytest.raises(TokenError) as error:
        async with ImapMailbox(mailbox.imap(), tokens=tokens):
            pass
    text = str(error.value)
    assert "invalid_client" in text and "Entra admin center" in text
    assert "MAILFLOW_TEST_OAUTH_SECRET" in text
    assert tokens.failure == text


async def test_password_sign_in_still_works(imap_account: object,
                                            oauth_server: object) -> None:
    from dovecot import ImapAccount

    assert isinstance(imap_account, ImapAccount)
    async with ImapMailbox(imap_account.settings()) as box:
        await box.select()


async def test_smtp_oauth_after_starttls(mailbox: Mailbox, tmp_path: Path,
                                         oauth_settings: Callable[..., OAuth2Settings]) -> None:
    from smtp_server import make_test_certs

    certs = make_test_certs(tmp_path / "certs")
    tokens = TokenSource(oauth_settings(), mailbox.user, TokenCache(tmp_path / "c.json"))
    with RecordingSmtpServer(starttls=certs.server_context(), require_starttls=True,
                             oauth=mailbox.server.check) as server:
        settings = mailbox.smtp(server, security="starttls", ca_file=certs.ca_file)
        async with SmtpSender(settings, tokens=tokens) as sender:
            await sender.send(_message("zoe@lib.example"), ["zoe@lib.example"])
    assert server.logins == [(mailbox.user, True)]
    assert server.messages[0].tls and server.messages[0].login == mailbox.user
