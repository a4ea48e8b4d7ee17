"""OAuth 2.0 pieces that need no server: provider presets (URLs, scopes), the SASL
strings, the [oauth2] validation, the token cache and when a token is refreshed."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mailflow.config import OAuth2Settings, SmtpSettings
from mailflow.errors import TokenError
from mailflow.oauth import sasl
from mailflow.oauth.cache import TokenCache
from mailflow.oauth.model import Token
from mailflow.oauth.presets import endpoints
from mailflow.oauth.tokens import TokenSource, auth_status


def _settings(**values: Any) -> OAuth2Settings:
    return OAuth2Settings.model_validate(values)


def test_microsoft_app_only_preset() -> None:
    ends = endpoints(_settings(provider="microsoft", tenant="contoso.onmicrosoft.com",
                               client_id="c", client_secret_env="S",
                               grant="client_credentials"))
    base = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/"
    assert ends.token_url == base + "token"
    assert ends.device_authorization_url == base + "devicecode"
    assert ends.scope == "https://outlook.office365.com/.default"


def test_microsoft_delegated_preset() -> None:
    ends = endpoints(_settings(provider="microsoft", tenant="t1", client_id="c",
                               grant="refresh_token"))
    assert ends.scope == ("https://outlook.office365.com/IMAP.AccessAsUser.All "
                          "https://outlook.office365.com/SMTP.Send offline_access")
    assert ends.token_url == "https://login.microsoftonline.com/t1/oauth2/v2.0/token"


def test_google_presets(tmp_path: Path) -> None:
    for grant, extra in (("service_account", {"service_account_file": tmp_path / "k.json"}),
                         ("refresh_token", {"client_id": "c"})):
        ends = endpoints(_settings(provider="google", grant=grant, **extra))
        assert ends.token_url == "https://oauth2.googleapis.com/token"
        assert ends.authorization_url == "https://accounts.google.com/o/oauth2/v2/auth"
        assert ends.scope == "https://mail.google.com/"
        assert ends.device_authorization_url is None  # the mail scope has no device flow


def test_keys_override_a_preset() -> None:
    ends = endpoints(_settings(provider="microsoft", tenant="t", client_id="c",
                               grant="refresh_token", scope="a b",
                               token_url="https://login.microsoftonline.us/t/oauth2/v2.0/token"))
    assert ends.scope == "a b" and ends.token_url.startswith("https://login.microsoftonline.us")


@pytest.mark.parametrize(("values", "says"), [
    ({"provider": "microsoft", "grant": "client_credentials", "client_id": "c",
      "client_secret_env": "S"}, "needs tenant"),
    ({"provider": "microsoft", "tenant": "t", "grant": "client_credentials",
      "client_id": "c"}, "client_secret_env"),
    ({"provider": "custom", "grant": "client_credentials", "client_id": "c",
      "client_secret_env": "S"}, "token_url"),
    ({"provider": "google", "grant": "service_account"}, "service_account_file"),
    ({"provider": "microsoft", "tenant": "t", "grant": "service_account"},
     'not available with provider "microsoft"'),
    ({"provider": "custom", "grant": "refresh_token", "client_id": "c",
      "token_url": "http://auth.example.org/token"}, "only to a loopback address"),
    ({"provider": "custom", "grant": "refresh_token", "client_id": "c",
      "token_url": "ftp://x/token"}, "expected an https URL"),
    ({"provider": "custom", "grant": "refresh_token", "client_id": "c",
      "token_url": "https://a.example/token", "mechanism": "PLAIN"}, "OAUTHBEARER"),
])
def test_oauth2_table_mistakes_are_named(values: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        _settings(**values)


def test_plain_http_token_urls_only_to_loopback() -> None:
    for url in ("http://127.0.0.1:8080/token", "http://localhost/token", "http://[::1]/t",
                "http://127.3.4.5/t", "https://login.example/t"):
        assert _settings(provider="custom", grant="refresh_token", client_id="c",
                         token_url=url).token_url == url


def test_oauth2_auth_needs_a_username_but_no_password() -> None:
    values = {"host": "smtp.office365.com", "port": 587, "security": "starttls",
              "auth": "oauth2"}
    with pytest.raises(ValidationError, match="needs username"):
        SmtpSettings.model_validate(values)
    settings = SmtpSettings.model_validate({**values, "username": "m@lib.example"})
    assert settings.password() is None


def test_xoauth2_string() -> None:
    got = sasl.initial_response("XOAUTH2", "m@lib.example", "tok3n", "imap.example", 993)
    assert base64.b64decode(got) == b"user=m@lib.example\x01auth=Bearer tok3n\x01\x01"
    assert sasl.abort_response("XOAUTH2") == ""


def test_oauthbearer_string_rfc7628() -> None:
    got = sasl.initial_response("OAUTHBEARER", "a,b=c@lib.example", "tok3n", "smtp.example",
                                587)
    assert base64.b64decode(got) == (b"n,a=a=2Cb=3Dc@lib.example,\x01host=smtp.example\x01"
                                     b"port=587\x01auth=Bearer tok3n\x01\x01")
    assert base64.b64decode(sasl.abort_response("OAUTHBEARER")) == b"\x01"


def test_sasl_refuses_control_characters_and_reads_error_challenges() -> None:
    with pytest.raises(ValueError, match="control characters"):
        sasl.initial_response("XOAUTH2", "m\r\n@x", "t", "h", 1)
    challenge = base64.b64encode(json.dumps(
        {"status": "invalid_token", "scope": "https://mail.google.com/"}).encode())
    assert sasl.describe_challenge(challenge) == ("invalid_token (scope "
                                                  "https://mail.google.com/)")
    assert sasl.describe_challenge(b"not base64!") == ""


def test_the_cache_is_written_atomically_and_owner_only(tmp_path: Path) -> None:
    cache = TokenCache(tmp_path / "sub" / "mailflow-oauth.json")
    old = os.umask(0o022)
    try:
        cache.update(refresh_token="r1", account="m@lib.example")
        cache.update(refresh_token="r2")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(cache.path).st_mode) == 0o600
    assert cache.read() == {"refresh_token": "r2", "account": "m@lib.example"}
    assert os.listdir(cache.path.parent) == ["mailflow-oauth.json"]


class _Grant:
    """Counts fetches; each token lives `life` seconds; fails while `error` is set."""

    def __init__(self, life: float = 100.0) -> None:
        self.account, self.token_url = "m@lib.example", "https://x/token"
        self.life, self.fetched, self.error = life, 0, ""

    async def fetch(self) -> Token:
        if self.error:
            raise TokenError(self.error)
        self.fetched += 1
        return Token(f"token-{self.fetched}", self.life, "s")


def test_tokens_are_refreshed_before_they_expire_and_after_a_refusal(
        tmp_path: Path) -> None:
    now = [1000.0]
    grant = _Grant(life=100.0)
    source = TokenSource(_settings(provider="custom", grant="client_credentials",
                                   client_id="c", client_secret_env="S",
                                   token_url="https://x/token"),
                         "m@lib.example", TokenCache(tmp_path / "c.json"),
                         clock=lambda: now[0], grant=grant)

    async def scenario() -> None:
        assert await source.token() == "token-1"
        now[0] += 79  # 21 s left: more than a fifth of its life
        assert await source.token() == "token-1"
        now[0] += 2  # 19 s left: renewed before it expires
        assert await source.token() == "token-2"
        assert await source.refused("token-2") == "token-3"
        assert await source.refused("token-2") == "token-3"  # another sign-in already did
        grant.error = "the client was refused: create a new secret"
        with pytest.raises(TokenError):
            await source.refused("token-3")
        assert source.failure == grant.error
        grant.error = ""
        assert await source.token() == "token-4"
        assert source.failure is None

    asyncio.run(scenario())
    assert "token" not in repr(source).replace("TokenSource", "")
    shown = auth_status(source.settings, source.cache)
    assert shown["account"] == "m@lib.example" and shown["scope"] == "s"
    assert not any(f"token-{n}" in json.dumps(shown) for n in range(1, 5))
    assert "token-" not in source.cache.path.read_text()  # access tokens: memory only


def test_config_example_documents_every_oauth_key() -> None:
    repo = Path(__file__).resolve().parents[2]
    text = (repo / "config.example.toml").read_text()
    scaffold = (repo / "mailflow" / "scaffold" / "config.example.toml").read_text()

    def oauth_block(example: str) -> str:
        return example[example.index("# OAuth 2.0 sign-in"):example.index("[schedule]")]

    assert oauth_block(scaffold) == oauth_block(text)  # `mailflow init` documents it too
    assert scaffold.count('# auth = "password"') == 2
    for name in OAuth2Settings.model_fields:
        assert f"# {name} = " in text, name
    assert text.count('# auth = "password"') == 2  # [smtp] and [imap]
    # the commented table, uncommented, is a valid [oauth2]
    start = text.index("# [oauth2]")
    block = [line[2:] for line in text[start:text.index("[schedule]")].splitlines()
             if re.match(r"# [a-z_0-9]+ = ", line)]
    values = tomllib.loads("\n".join(block))
    values.pop("device_authorization_url")
    values["service_account_file"] = None
    assert _settings(**values).provider == "microsoft"


def test_a_missing_key_file_or_secret_variable_is_a_token_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both surface at the pass that needs a token, recorded and alerted like a refusal."""
    from mailflow.oauth.grants import make_grant

    cache = TokenCache(tmp_path / "c.json")
    grant = make_grant(_settings(provider="google", grant="service_account",
                                 service_account_file=tmp_path / "gone.json"), "m@x", cache)
    with pytest.raises(TokenError, match=r"gone\.json does not exist: download"):
        asyncio.run(grant.fetch())
    (tmp_path / "bad.json").write_text("[1, 2]")
    grant = make_grant(_settings(provider="google", grant="service_account",
                                 service_account_file=tmp_path / "bad.json"), "m@x", cache)
    with pytest.raises(TokenError, match="not a service account key"):
        asyncio.run(grant.fetch())
    monkeypatch.delenv("MAILFLOW_NO_SUCH_SECRET", raising=False)
    grant = make_grant(_settings(provider="custom", grant="client_credentials",
                                 client_id="c", client_secret_env="MAILFLOW_NO_SUCH_SECRET",
                                 token_url="https://x.example/token"), "m@x", cache)
    with pytest.raises(TokenError, match="MAILFLOW_NO_SUCH_SECRET") as error:
        asyncio.run(grant.fetch())
    assert error.value.refused
