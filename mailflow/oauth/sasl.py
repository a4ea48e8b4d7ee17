"""The SASL strings of OAuth 2.0 sign-in, built in this one place.

``XOAUTH2`` (Google's and Microsoft's) and ``OAUTHBEARER`` (RFC 7628) both send the
user and the bearer token as one base64 initial response. When the server refuses,
it answers with a base64 JSON challenge (``{"status": "invalid_token", ...}``) and
waits for the client to end the exchange: an empty line for XOAUTH2, ``%x01`` for
OAUTHBEARER (RFC 7628 3.2.3); it then sends its failure reply.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Literal

Mechanism = Literal["XOAUTH2", "OAUTHBEARER"]


def _gs2_name(user: str) -> str:
    """RFC 5801 saslname: "," and "=" escaped."""
    return user.replace("=", "=3D").replace(",", "=2C")


def initial_response(mechanism: Mechanism, user: str, token: str, host: str, port: int) -> str:
    """The base64 initial client response for ``AUTHENTICATE``/``AUTH``."""
    if any(ch in user + token for ch in "\x01\r\n"):
        raise ValueError("a user name or token cannot hold control characters")
    if mechanism == "XOAUTH2":
        raw = f"user={user}\x01auth=Bearer {token}\x01\x01"
    else:
        raw = (f"n,a={_gs2_name(user)},\x01host={host}\x01port={port}\x01"
               f"auth=Bearer {token}\x01\x01")
    return base64.b64encode(raw.encode()).decode("ascii")


def abort_response(mechanism: Mechanism) -> str:
    """What the client sends to a failure challenge to receive the final failure reply."""
    return "" if mechanism == "XOAUTH2" else base64.b64encode(b"\x01").decode("ascii")


def describe_challenge(challenge: str | bytes) -> str:
    """The server's reason from an error challenge, e.g. ``invalid_token (401)``; no token
    is ever in it. Unreadable challenges give ``""``."""
    try:
        data = json.loads(base64.b64decode(challenge, validate=True))
    except (binascii.Error, ValueError):
        return ""
    if not isinstance(data, dict):
        return ""
    status = str(data.get("status", "")).strip()
    scope = str(data.get("scope", "")).strip()
    return f"{status} (scope {scope})" if status and scope else status
