"""A local OAuth 2.0 authorization server for the tests (nothing reaches the internet).

``OAuthServer`` is a threaded stdlib HTTP server on 127.0.0.1, port 0, with:

- ``POST /token``: the grants ``client_credentials`` (a client's secret in the form or
  in HTTP Basic), ``refresh_token`` (every use returns a new refresh token and retires
  the old one: rotation), ``urn:ietf:params:oauth:grant-type:device_code`` (RFC 8628),
  ``authorization_code`` (with PKCE S256, for the loopback flow) and
  ``urn:ietf:params:oauth:grant-type:jwt-bearer`` (a service account's signed JWT whose
  ``sub`` is the mailbox, verified with the account's public key);
- ``POST /device``: RFC 8628 device authorization (``approve(user_code)`` stands in
  for the person entering the code; ``auto_approve`` approves at once);
- ``GET /authorize``: redirects at once to ``redirect_uri`` with a code (the person
  consenting in a browser);
- ``POST /introspect`` (RFC 7662 ``token=``; Dovecot's ``introspection_mode = post``)
  and ``GET /introspect`` with a bearer token: ``{"active": true, "username": mailbox}``
  for a live access token, ``{"active": false}`` otherwise.

Access tokens live ``lifetime`` seconds (or their client's own ``lifetime``).
``revoke(client_id)`` kills a client's access and refresh tokens; ``set_secret``
changes a client's secret (the old one is refused with ``invalid_client``).
``check(token)`` is what the SMTP test server asks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass
class Client:
    client_id: str
    secret: str | None  # None: a public client (device flow, loopback flow)
    mailboxes: set[str]  # what its app-only tokens may open (Add-MailboxPermission)
    public_key: RSAKey | None = None  # a service account's
    lifetime: float | None = None  # of its access tokens, instead of the server's


@dataclass
class _Access:
    client_id: str
    mailbox: str
    scope: str
    expires_at: float


@dataclass
class _Device:
    client_id: str
    scope: str
    user_code: str
    mailbox: str | None = None  # set when approved


@dataclass
class OAuthServer:
    lifetime: float = 3.0
    auto_approve: str | None = None  # approve every device code at once as this mailbox
    clients: dict[str, Client] = field(default_factory=dict)
    issued: Counter[str] = field(default_factory=Counter)  # tokens issued, by grant
    introspections: int = 0
    log: list[str] = field(default_factory=list)  # every request body, for leak checks
    every_token: list[str] = field(default_factory=list)  # access and refresh, ever issued
    _access: dict[str, _Access] = field(default_factory=dict)
    _refresh: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # client,box,scope
    _devices: dict[str, _Device] = field(default_factory=dict)
    _codes: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _httpd: ThreadingHTTPServer | None = None

    # --- lifecycle -----------------------------------------------------------------

    def __enter__(self) -> OAuthServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # --- what a test arranges ----------------------------------------------------------

    def add_client(self, mailboxes: set[str] | None = None, *, public: bool = False,
                   public_key: RSAKey | None = None, lifetime: float | None = None) -> Client:
        client = Client(f"app-{secrets.token_hex(4)}",
                        None if public else "secret-" + secrets.token_urlsafe(16),
                        set(mailboxes or ()), public_key, lifetime)
        with self._lock:
            self.clients[client.client_id] = client
        return client

    def set_secret(self, client_id: str) -> str:
        """A new secret; the old one is refused from now on."""
        with self._lock:
            self.clients[client_id].secret = "secret-" + secrets.token_urlsafe(16)
            return self.clients[client_id].secret or ""

    def revoke(self, client_id: str) -> None:
        """Every access and refresh token of the client stops working."""
        with self._lock:
            self._access = {t: a for t, a in self._access.items() if a.client_id != client_id}
            self._refresh = {t: r for t, r in self._refresh.items() if r[0] != client_id}

    def approve(self, user_code: str, mailbox: str) -> None:
        with self._lock:
            for device in self._devices.values():
                if device.user_code == user_code:
                    device.mailbox = mailbox

    def refresh_tokens(self, client_id: str) -> set[str]:
        """The client's refresh tokens that still work."""
        with self._lock:
            return {t for t, (client, _, _) in self._refresh.items() if client == client_id}

    def live_tokens(self) -> set[str]:
        now = time.time()
        with self._lock:
            return {t for t, a in self._access.items() if a.expires_at > now}

    def check(self, token: str) -> str | None:
        """The mailbox a live access token opens, or None."""
        with self._lock:
            access = self._access.get(token)
        if access is None or access.expires_at <= time.time():
            return None
        return access.mailbox

    # --- the endpoints -----------------------------------------------------------------

    def _issue(self, grant: str, client_id: str, mailbox: str, scope: str,
               refresh: bool) -> dict[str, Any]:
        token = "at-" + secrets.token_urlsafe(24)
        with self._lock:
            lifetime = self.clients[client_id].lifetime or self.lifetime
            self.every_token.append(token)
            self._access[token] = _Access(client_id, mailbox, scope, time.time() + lifetime)
            self.issued[grant] += 1
        body: dict[str, Any] = {"access_token": token, "token_type": "Bearer",
                                "expires_in": lifetime, "scope": scope}
        if refresh:
            rt = "rt-" + secrets.token_urlsafe(24)
            with self._lock:
                self.every_token.append(rt)
                self._refresh[rt] = (client_id, mailbox, scope)
            body["refresh_token"] = rt
        return body

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, Any]:
        grant = form.get("grant_type", "")
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret"))
        client = self.clients.get(client_id)
        if grant == JWT_GRANT:
            return self._jwt(form)
        if client is None or (client.secret is not None and client.secret != secret):
            return 401, {"error": "invalid_client",
                         "error_description": "AADSTS7000215: Invalid client secret provided."}
        scope = form.get("scope", "")
        if grant == "client_credentials":
            if len(client.mailboxes) != 1:
                return 400, {"error": "unauthorized_client"}
            return 200, self._issue(grant, client_id, next(iter(client.mailboxes)), scope, False)
        if grant == "refresh_token":
            with self._lock:
                known = self._refresh.pop(form.get("refresh_token", ""), None)  # rotation
            if known is None or known[0] != client_id:
                return 400, {"error": "invalid_grant",
                             "error_description": "the refresh token was revoked"}
            return 200, self._issue(grant, client_id, known[1], known[2], True)
        if grant == DEVICE_GRANT:
            return self._device_token(form, client_id)
        if grant == "authorization_code":
            return self._code_token(form, client_id)
        return 400, {"error": "unsupported_grant_type"}

    def _device_token(self, form: dict[str, str], client_id: str) -> tuple[int, Any]:
        with self._lock:
            device = self._devices.get(form.get("device_code", ""))
        if device is None or device.client_id != client_id:
            return 400, {"error": "expired_token"}
        if device.mailbox is None:
            return 400, {"error": "authorization_pending"}
        with self._lock:
            self._devices.pop(form["device_code"], None)
        return 200, self._issue(DEVICE_GRANT, client_id, device.mailbox, device.scope, True)

    def _code_token(self, form: dict[str, str], client_id: str) -> tuple[int, Any]:
        with self._lock:
            code = self._codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if code is None or code[0] != client_id or code[3] != challenge:
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != code[2]:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri"}
        return 200, self._issue("authorization_code", client_id, code[1], "", True)

    def _jwt(self, form: dict[str, str]) -> tuple[int, Any]:
        try:
            unverified = json.loads(base64.urlsafe_b64decode(
                form["assertion"].split(".")[1] + "=="))
            client = self.clients[unverified["iss"]]
            assert client.public_key is not None
            claims = jwt.decode(form["assertion"], client.public_key).claims
        except (KeyError, ValueError, AssertionError, JoseError):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        if claims.get("sub") not in client.mailboxes or claims.get("exp", 0) < time.time():
            return 401, {"error": "unauthorized_client",
                         "error_description": "Client is unauthorized to retrieve access "
                                              "tokens using this method"}
        return 200, self._issue(JWT_GRANT, client.client_id, claims["sub"],
                                str(claims.get("scope", "")), False)

    def device(self, form: dict[str, str]) -> tuple[int, Any]:
        client = self.clients.get(form.get("client_id", ""))
        if client is None:
            return 400, {"error": "invalid_client"}
        code, user_code = secrets.token_urlsafe(16), secrets.token_hex(4).upper()
        device = _Device(client.client_id, form.get("scope", ""), user_code, self.auto_approve)
        with self._lock:
            self._devices[code] = device
        return 200, {"device_code": code, "user_code": user_code,
                     "verification_uri": f"{self.url}/device/verify", "expires_in": 60,
                     "interval": 1}

    def authorize(self, query: dict[str, str]) -> str:
        """Where the browser is sent: redirect_uri with a code, as if the person agreed."""
        code = "code-" + secrets.token_urlsafe(12)
        with self._lock:
            self._codes[code] = (query["client_id"], self.auto_approve or "",
                                 query["redirect_uri"], query.get("code_challenge", ""))
        return query["redirect_uri"] + "?" + urlencode({"code": code,
                                                        "state": query.get("state", "")})

    def introspect(self, token: str) -> dict[str, Any]:
        with self._lock:
            self.introspections += 1
        mailbox = self.check(token)
        if mailbox is None:
            return {"active": False}
        return {"active": True, "username": mailbox, "token_type": "Bearer"}


class _Handler(BaseHTTPRequestHandler):
    owner: OAuthServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        self.owner.log.append(raw)
        return {k: v[0] for k, v in parse_qs(raw).items()}

    def _basic(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user, password

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        form = self._form()
        if path == "/token":
            self._reply(*self.owner.token(form, self._basic()))
        elif path == "/device":
            self._reply(*self.owner.device(form))
        elif path == "/introspect":
            self._reply(200, self.owner.introspect(form.get("token", "")))
        else:
            self._reply(404, {"error": "not_found"})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/authorize":
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            self._reply(302, {}, {"Location": self.owner.authorize(query)})
        elif parts.path == "/introspect":
            header = self.headers.get("Authorization", "")
            self._reply(200, self.owner.introspect(header.removeprefix("Bearer ").strip()))
        else:
            self._reply(404, {"error": "not_found"})

