"""Outbox keys, Message-IDs and reply tokens: all derived, never random.

A resend after a crash carries the same Message-ID, so a reply to either copy
finds the same outbox entry.
"""

from __future__ import annotations

import hashlib
import re

NO_PAIR = "-"

_TOKEN_RE = re.compile(r"\+mf-([0-9a-f]{16})@", re.IGNORECASE)


def outbox_key(pair_id: str, kind: str, period: str, person: str) -> str:
    return f"{pair_id}/{kind}/{period}/{person.lower()}"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def message_id(key: str, domain: str) -> str:
    """`<hash.mailflow@domain>`: the same key always gives the same id."""
    return f"<{_digest(key)[:32]}.mailflow@{domain}>"


def reply_token(key: str) -> str:
    return _digest(key)[:16]


def reply_address(base: str, key: str) -> str:
    """`name@domain` -> `name+mf-<token>@domain` so a reply can be matched by address too."""
    local, _, domain = base.rpartition("@")
    return f"{local}+mf-{reply_token(key)}@{domain}"


def token_in(address: str) -> str | None:
    match = _TOKEN_RE.search(address + "@" if "@" not in address else address)
    return match.group(1).lower() if match else None
