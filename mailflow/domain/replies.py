"""Incoming mail -> a classified, parsed message (SPEC section 3, steps 2, 3 and 5).

`parse_message(raw)` never raises: whatever it cannot read becomes a note in
`problems` and a best-effort value. Duplicate detection (step 1) and the roster
lookup (step 4) are the poller's job. Pure: bytes in, a frozen value out.
"""

from __future__ import annotations

import email
import email.utils
import re
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email._header_value_parser import get_encoded_word
from email.header import decode_header, make_header
from email.headerregistry import AddressHeader
from email.message import Message
from email.policy import default as _modern_policy
from functools import lru_cache

from mailflow.domain.bounces import BounceInfo, inspect_report
from mailflow.domain.quotes import extract_new_text, html_to_text

__all__ = ["BounceInfo", "ParsedMessage", "body_text", "is_auto_reply", "parse_message"]

BOUNCE, DELIVERY_REPORT, COMPLAINT, AUTO_REPLY, HUMAN = (
    "bounce", "delivery_report", "complaint", "auto_reply", "human"
)

_MSGID_RE = re.compile(r"<[^<>\s]+>")

# Bounds, so that no message costs more than a little time and memory to read. A reply's
# new text comes first, so a capped body still yields its keywords; a 20 MB attachment
# (about 27 MB as base64, 360,000 lines) stays well inside every limit.
MAX_MESSAGE_BYTES = 50 * 1024 * 1024
MAX_HEADER_BYTES = 4 * 1024 * 1024  # the whole header section
MAX_LINES = 1_000_000
MAX_NESTED_PARTS = 100  # multipart/* and message/* parts
MAX_HEADER_CHARS = 16_384  # of one header's value: longer ones are cut
MAX_TEXT_CHARS = 256_000  # of the text or HTML body read for the new text
_NESTING_RE = re.compile(rb"^content-type:[ \t]*(?:multipart|message)/", re.I | re.M)
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Vacation")
_OOO_SUBJECT_RE = re.compile(
    r"out of (the )?office|\bautomatic reply\b|\bauto[- ]?reply\b|\bauto[- ]?response\b|"
    r"\bautoreply\b|away from (the|my) (office|desk)|\bon (vacation|holiday|leave)\b|"
    r"^away until\b|abwesenheit|automatische antwort|réponse automatique|absence du bureau|"
    r"respuesta automática|fuera de (la )?oficina|risposta automatica|fuori ufficio|"
    r"automatisch antwoord|afwezig|autosvar|frånvaro|fraværende|automatyczna odpowiedź|"
    r"poza biurem|автоответ|автоматический ответ|自動返信|自动回复|不在|resposta automática|"
    r"ausência|ausente|automatiskt svar|automatisk svar|automaattinen vastaus|poissa toimistolta|"
    r"automatická odpověď|nepřítomnost|автовідповідь|автоматична відповідь|otomatik yanıt|"
    r"ofis dışında|자동 회신|자동 응답|부재중",
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
    unreadable: str = ""  # why only the headers were read (too large, too deeply nested...)


def _header(msg: Message, name: str, problems: list[str], *, keep_end: bool = False) -> str:
    try:
        value = msg.get(name)
        if value is None:
            return ""
        text = str(value)
        if len(text) > MAX_HEADER_CHARS:
            problems.append(f"header {name}: {len(text)} characters, cut to {MAX_HEADER_CHARS}")
            text = text[-MAX_HEADER_CHARS:] if keep_end else text[:MAX_HEADER_CHARS]
        if "=?" not in text:  # no encoded word: decode_header would hand the text back as is
            return text.strip()
        return str(make_header(decode_header(text))).strip()
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
    if len(payload) > MAX_TEXT_CHARS * 4:
        problems.append(f"text part of {len(payload)} bytes: only its start was read")
        payload = payload[: MAX_TEXT_CHARS * 4]
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
        return plain[:MAX_TEXT_CHARS]
    if html is not None:
        try:
            return html_to_text(html[:MAX_TEXT_CHARS])
        except Exception as exc:
            problems.append(f"html: {type(exc).__name__}")
    if plain is None and html is None:
        problems.append("no text body")
    return (plain or "")[:MAX_TEXT_CHARS]


def _too_complex(raw: bytes) -> str:
    """Why this message is not parsed beyond its headers, or ""."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return f"message of {len(raw):,} bytes is larger than {MAX_MESSAGE_BYTES:,}"
    lines = raw.count(b"\n")
    if lines > MAX_LINES:
        return f"message of {lines:,} lines has more than {MAX_LINES:,}"
    # each match starts a line with "c" or "C": count those first (two fast scans), and
    # search for the headers themselves only when there could be too many
    starts = raw.count(b"\nc") + raw.count(b"\nC") + (raw[:1] in (b"c", b"C"))
    nested = len(_NESTING_RE.findall(raw)) if starts > MAX_NESTED_PARTS else 0
    if nested > MAX_NESTED_PARTS:
        return f"message has {nested} multipart or message parts, more than {MAX_NESTED_PARTS}"
    if _header_end(raw) > MAX_HEADER_BYTES:
        return f"header section larger than {MAX_HEADER_BYTES:,} bytes"
    return ""


def _header_end(raw: bytes) -> int:
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return min(ends) if ends else len(raw)


def _head(raw: bytes) -> bytes:
    """The header section alone (at most MAX_HEADER_BYTES), ended by a blank line."""
    return raw[: min(_header_end(raw), MAX_HEADER_BYTES)] + b"\n\n"


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR_SPEC = rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
# The From headers most mail carries, in plain ASCII: "Name Words <addr>", "\"Last, First\"
# <addr>", "<addr>" and "addr". For these the RFC 5322 parser gives the same name and
# address, with no defect, at a fraction of the cost; anything else (encoded words,
# comments, escapes, raw UTF-8, doubled spaces, dots in a bare name) goes to the parser,
# and so does any header with "=?" in it (atoms may contain "=" and "?").
_QWORD = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.,:;@<>()\[\]-]+"  # in a quoted name: no \ or "
# A non-ASCII name as mail programs (and email.utils.formataddr) write it: one UTF-8
# encoded word, a space, the address in brackets.
# (No re.IGNORECASE: with it [A-Za-z] would match the Kelvin sign and the long s too.)
_ENCODED_FROM_RE = re.compile(
    rf"(?P<word>=\?[uU][tT][fF]-8\?[bBqQ]\?[^?\s]*\?=) <(?P<addr>{_ADDR_SPEC})>"
)
_SIMPLE_FROM_RE = re.compile(
    rf"(?:(?P<name>{_ATOM}(?: {_ATOM})*) ?|\"(?P<qname>{_QWORD}(?: {_QWORD})*)\" ?)?"
    rf"<(?P<addr>{_ADDR_SPEC})>|(?P<bare>{_ADDR_SPEC})"
)


def _sender(msg: Message, problems: list[str]) -> tuple[str, str]:
    """The one (name, address) of the From header, or ("", "") when that is not certain.

    The raw header is parsed by the RFC 5322 parser *before* any encoded word is decoded,
    so a display name such as ``=?utf-8?q?zoe=40lib.example?=`` stays a name. A header the
    parser finds invalid (``zoe@lib.example <attacker@evil.example>``), one that names
    several authors, or an address that only lower-casing turns into another one (the
    Kelvin sign K -> k) is not trusted: the message then has no readable sender.
    """
    try:
        # raw_items: msg.get would have turned raw 8-bit bytes into U+FFFD already
        value = next((v for k, v in msg.raw_items() if k.lower() == "from"), None)
        if value is None:
            return "", ""
        text = str(value)[:MAX_HEADER_CHARS]
        with suppress(UnicodeError):  # raw UTF-8 (SMTPUTF8) arrives surrogate-escaped
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        text = re.sub(r"\r?\n(?=[ \t])", "", text).strip()  # unfold a folded header
    except Exception as exc:
        problems.append(f"header From: {type(exc).__name__}")
        return "", ""
    simple = _SIMPLE_FROM_RE.fullmatch(text) if "=?" not in text else None
    if simple is not None:  # what _parsed_sender makes of it, without the parser's cost
        address = simple.group("addr") or simple.group("bare")
        return simple.group("name") or simple.group("qname") or "", address.lower()
    encoded = _ENCODED_FROM_RE.fullmatch(text)
    if encoded is not None:
        name = _encoded_name(encoded.group("word"))
        if name is not None:
            return name, encoded.group("addr").lower()
    return _parsed_sender(text, problems)


def _encoded_name(word: str) -> str | None:
    """The display name the RFC 5322 parser makes of one UTF-8 encoded word (with the
    parser's own get_encoded_word), or None when it is anything but plain: a defect,
    other white space than single spaces between words, or an unprintable character."""
    try:
        token, rest = get_encoded_word(word)
    except Exception:
        return None
    name = token.value
    if rest or token.all_defects or not name.isprintable() or name != " ".join(name.split()):
        return None
    return name


def _parsed_sender(text: str, problems: list[str]) -> tuple[str, str]:
    """`_sender` for an unfolded From value, by the RFC 5322 parser."""
    try:
        header = _modern_policy.header_factory("From", text)
        if not isinstance(header, AddressHeader):
            return "", ""
        invalid = [d for d in getattr(header, "defects", ())
                   if type(d).__name__ == "InvalidHeaderDefect"]
        addresses = header.addresses
    except Exception as exc:
        problems.append(f"header From: {type(exc).__name__}")
        return "", ""
    if invalid:
        problems.append(f"From header is malformed: {invalid[0]}")
        return "", ""
    if len(addresses) != 1:
        problems.append(f"From header names {len(addresses)} addresses, not one")
        return "", ""
    name, address = addresses[0].display_name, addresses[0].addr_spec
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        return "", ""
    if any(not ch.isascii() and ch.lower().isascii() for ch in address):
        problems.append(f"From address {address!r} changes when lower-cased")
        return "", ""
    return name, address.lower()


def _addresses(values: list[str]) -> list[str]:
    """The addresses (lower-case) in these To/Cc values, as email.utils.getaddresses reads
    them; a value that is one plain mailbox (see _SIMPLE_FROM_RE) is read without it."""
    simple = [_SIMPLE_FROM_RE.fullmatch(v) for v in values if v]
    if all(simple):
        return [(m.group("addr") or m.group("bare")).lower() for m in simple if m]
    return [a.lower() for _, a in email.utils.getaddresses(values) if "@" in a]


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
    present = {name.lower() for name in msg}  # msg.get of a missing one reads them all

    def get(name: str, default: object = None) -> object:
        return msg.get(name, default) if name.lower() in present else default

    auto = str(get("Auto-Submitted", "")).split(";")[0].strip().lower()
    if auto and auto != "no":
        return True
    for name in _AUTO_HEADERS:
        value = get(name)
        if value is not None and str(value).strip().lower() not in ("no", "false", "0"):
            return True
    if str(get("Precedence", "")).strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return True
    # X-Auto-Response-Suppress is not a sign: Outlook and Exchange put it on mail people
    # write (it asks *others* not to auto-reply). SPEC section 3.
    return _ooo_subject(subject)


@lru_cache(maxsize=4096)
def _ooo_subject(subject: str) -> bool:
    """Remembered by subject: most mail a program gets answers a few subjects of its own."""
    return _OOO_SUBJECT_RE.search(subject) is not None


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
    unreadable = _too_complex(raw)
    try:
        msg = email.message_from_bytes(_head(raw) if unreadable else raw)
    except Exception as exc:  # the stdlib parser is lenient; this is belt and braces
        problems.append(f"unparseable message: {type(exc).__name__}")
        return ParsedMessage(kind=HUMAN, problems=tuple(problems),
                             unreadable=unreadable or "the message could not be parsed")
    problems += [type(d).__name__ for d in getattr(msg, "defects", [])][:5]
    try:
        if unreadable:
            problems.append(unreadable)
            base = _basics(msg, trusted_authserv_id, problems)
            return replace(base, problems=tuple(problems), unreadable=unreadable)
        return _parse(msg, trusted_authserv_id, problems)
    except Exception as exc:  # e.g. RecursionError, MemoryError in a library
        problems.append(f"parse failed: {type(exc).__name__}: {str(exc)[:200]}")
        return ParsedMessage(kind=HUMAN, problems=tuple(problems),
                             unreadable=f"the message could not be parsed ({type(exc).__name__})")


def _basics(msg: Message, trusted: str | None, problems: list[str]) -> ParsedMessage:
    """What the headers say: sender, recipients, subject, date, thread, DMARC."""
    subject = _header(msg, "Subject", problems)
    from_name, from_address = _sender(msg, problems)
    if not from_address:
        problems.append("no readable From address")
    rcpts = _addresses([_header(msg, "To", problems), _header(msg, "Cc", problems)])
    own_id = _MSGID_RE.search(_header(msg, "Message-ID", problems))
    base = ParsedMessage(
        kind=HUMAN,
        message_id=own_id.group(0) if own_id else "",
        from_address=from_address,
        from_name=from_name,
        to_addresses=tuple(dict.fromkeys(rcpts)),
        subject=subject,
        date=_date(_header(msg, "Date", problems), problems),
        thread_ids=_thread_ids(
            _header(msg, "In-Reply-To", problems),
            _header(msg, "References", problems, keep_end=True),  # the newest ids are last
        ),
        dmarc_failed=_dmarc_failed(msg, trusted),
    )
    return base


def _parse(msg: Message, trusted: str | None, problems: list[str]) -> ParsedMessage:
    base = _basics(msg, trusted, problems)
    subject = base.subject
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
