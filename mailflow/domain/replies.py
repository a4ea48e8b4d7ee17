"""Incoming mail -> a classified, parsed message (SPEC section 3, steps 2, 3 and 5).

`parse_message(raw)` never raises: whatever it cannot read becomes a note in
`problems` and a best-effort value. Duplicate detection (step 1) and the roster
lookup (step 4) are the poller's job. Pure: bytes in, a frozen value out.
"""

from __future__ import annotations

import email
import email.utils
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message

from mailflow.domain.bounces import BounceInfo, inspect_report
from mailflow.domain.quotes import extract_new_text, html_to_text

__all__ = ["BounceInfo", "ParsedMessage", "is_auto_reply", "parse_message"]

BOUNCE, DELIVERY_REPORT, COMPLAINT, AUTO_REPLY, HUMAN = (
    "bounce", "delivery_report", "complaint", "auto_reply", "human"
)

_MSGID_RE = re.compile(r"<[^<>\s]+>")
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Vacation")
_OOO_SUBJECT_RE = re.compile(
    r"out of (the )?office|\bautomatic reply\b|\bauto[- ]?reply\b|\bauto[- ]?response\b|"
    r"\bautoreply\b|away from (the|my) (office|desk)|\bon (vacation|holiday|leave)\b|"
    r"^away until\b|abwesenheit|automatische antwort|réponse automatique|absence du bureau|"
    r"respuesta automática|fuera de (la )?oficina|risposta automatica|fuori ufficio|"
    r"automatisch antwoord|afwezig|autosvar|frånvaro|fraværende|automatyczna odpowiedź|"
    r"poza biurem|автоответ|автоматический ответ|自動返信|自动回复|不在|resposta automática|"
    r"ausência|ausente",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ParsedMessage:
    kind: str  # "bounce", "delivery_report", "complaint", "auto_reply" or "human"
    message_id: str = ""
    from_address: str = ""
    from_name: str = ""
    to_addresses: tuple[str, ...] = ()  # To and Cc, lower-case
    subject: str = ""
    date: datetime | None = None
    thread_ids: tuple[str, ...] = ()  # In-Reply-To, then References, most recent first
    new_text: str = ""  # human and auto-reply mail only
    bounce: BounceInfo | None = None
    dmarc_failed: bool = False
    problems: tuple[str, ...] = ()


def _header(msg: Message, name: str, problems: list[str]) -> str:
    try:
        value = msg.get(name)
        if value is None:
            return ""
        return str(make_header(decode_header(str(value)))).strip()
    except Exception as exc:
        problems.append(f"header {name}: {type(exc).__name__}")
        try:
            return str(msg.get(name, "")).strip()
        except Exception:
            return ""


def _decode(part: Message, problems: list[str]) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception as exc:
        problems.append(f"body: {type(exc).__name__}")
        return ""
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset)
    except LookupError:
        problems.append(f"unknown charset {charset!r}")
    except UnicodeDecodeError:
        problems.append(f"body is not valid {charset}")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("windows-1252", "replace")


def body_text(msg: Message, problems: list[str]) -> str:
    """The message's readable text: its first text/plain part, else its HTML as text."""
    plain = html = None
    try:
        parts = list(msg.walk())
    except Exception as exc:
        problems.append(f"mime: {type(exc).__name__}")
        parts = [msg]
    for part in parts:
        if part.is_multipart() or "attachment" in str(part.get("Content-Disposition", "")).lower():
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and plain is None:
            plain = _decode(part, problems)
        elif ctype == "text/html" and html is None:
            html = _decode(part, problems)
    if plain is not None and (plain.strip() or html is None):
        return plain
    if html is not None:
        try:
            return html_to_text(html)
        except Exception as exc:
            problems.append(f"html: {type(exc).__name__}")
    if plain is None and html is None:
        problems.append("no text body")
    return plain or ""


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    return [(n, a.lower()) for n, a in email.utils.getaddresses(values) if "@" in a]


def _date(value: str, problems: list[str]) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        problems.append(f"unreadable Date {value[:60]!r}")
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _thread_ids(in_reply_to: str, references: str) -> tuple[str, ...]:
    ids = _MSGID_RE.findall(in_reply_to) + list(reversed(_MSGID_RE.findall(references)))
    return tuple(dict.fromkeys(ids))


def is_auto_reply(msg: Message, subject: str) -> bool:
    """RFC 3834 and the de-facto auto-reply headers, or an out-of-office subject."""
    auto = str(msg.get("Auto-Submitted", "")).split(";")[0].strip().lower()
    if auto and auto != "no":
        return True
    for name in _AUTO_HEADERS:
        value = msg.get(name)
        if value is not None and str(value).strip().lower() not in ("no", "false", "0"):
            return True
    if str(msg.get("Precedence", "")).strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return True
    if msg.get("X-Auto-Response-Suppress") is not None:
        return True
    return bool(_OOO_SUBJECT_RE.search(subject))


def _dmarc_failed(msg: Message, trusted: str | None) -> bool:
    if not trusted:
        return False
    for value in msg.get_all("Authentication-Results") or []:
        text = re.sub(r"\s+", " ", str(value))
        authserv = text.split(";", 1)[0].strip().split(" ")[0].lower()
        if authserv == trusted.lower() and re.search(r"\bdmarc\s*=\s*fail\b", text, re.I):
            return True
    return False


def parse_message(raw: bytes, *, trusted_authserv_id: str | None = None) -> ParsedMessage:
    """Classify and parse one incoming message. Never raises."""
    problems: list[str] = []
    try:
        msg = email.message_from_bytes(raw)
    except Exception as exc:  # the stdlib parser is lenient; this is belt and braces
        problems.append(f"unparseable message: {type(exc).__name__}")
        return ParsedMessage(kind=HUMAN, problems=tuple(problems))
    problems += [type(d).__name__ for d in getattr(msg, "defects", [])][:5]
    try:
        return _parse(msg, trusted_authserv_id, problems)
    except Exception as exc:
        problems.append(f"parse failed: {type(exc).__name__}: {exc}")
        return ParsedMessage(kind=HUMAN, problems=tuple(problems))


def _parse(msg: Message, trusted: str | None, problems: list[str]) -> ParsedMessage:
    subject = _header(msg, "Subject", problems)
    senders = _addresses([_header(msg, "From", problems)])
    if not senders:
        problems.append("no readable From address")
    rcpts = _addresses([_header(msg, "To", problems), _header(msg, "Cc", problems)])
    own_id = _MSGID_RE.search(_header(msg, "Message-ID", problems))
    base = ParsedMessage(
        kind=HUMAN,
        message_id=own_id.group(0) if own_id else "",
        from_address=senders[0][1] if senders else "",
        from_name=senders[0][0] if senders else "",
        to_addresses=tuple(dict.fromkeys(a for _, a in rcpts)),
        subject=subject,
        date=_date(_header(msg, "Date", problems), problems),
        thread_ids=_thread_ids(
            _header(msg, "In-Reply-To", problems), _header(msg, "References", problems)
        ),
        dmarc_failed=_dmarc_failed(msg, trusted),
    )
    try:
        verdict = inspect_report(msg)
    except Exception as exc:
        problems.append(f"bounce detection failed: {type(exc).__name__}")
        verdict = None
    if verdict is not None:
        return replace(base, kind=verdict.kind, bounce=verdict.bounce, problems=tuple(problems))
    kind = AUTO_REPLY if is_auto_reply(msg, subject) else HUMAN
    text = extract_new_text(body_text(msg, problems))
    return replace(base, kind=kind, new_text=text, problems=tuple(problems))
