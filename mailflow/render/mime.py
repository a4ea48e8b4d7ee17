"""A rendered email -> the bytes of an RFC 5322 message (SPEC section 4).

multipart/alternative with a UTF-8 text part and an HTML part. Every value
that goes into a header is reduced to one line first, so a name or subject
holding CR/LF can never start a header of its own.

The message is written directly as the bytes SMTP sends (CRLF line endings,
headers folded to 78 columns, non-ASCII header text as RFC 2047 encoded words,
bodies 7bit or quoted-printable), not built as an ``email.message.EmailMessage``
and serialized: that took about 1.6 ms per email, a third of composing one
(bench/RESULTS.md). ``OutgoingMessage.email()`` parses the bytes back with
the standard library for anyone who wants to inspect them.
"""

from __future__ import annotations

import binascii
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache


@dataclass(frozen=True)
class RenderedEmail:
    """A template's output: the subject, the Markdown text part and the inlined HTML part."""

    subject: str
    text: str
    html: str


_MSGID_RE = re.compile(r"^<[^<>\s@]+@[^<>\s@]+>$")
_BREAKING = {"Cc", "Zl", "Zp"}
_BARE_ADDRESS = re.compile(r"[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+\Z")


def one_line(value: str) -> str:
    """Control characters and line breaks become spaces; runs of spaces collapse."""
    if value.isprintable():  # holds none of them: only the spaces to collapse
        return " ".join(value.split())
    text = "".join(" " if unicodedata.category(ch) in _BREAKING else ch for ch in value)
    return " ".join(text.split())


# A display name is cut to fit on one line, quotes and all, so that a roster name like
# "Eve, victim@evil.example, <70 more characters>" stays one address in any reader.
_MAX_QUOTED_NAME = 56


def _fits_one_line(display: str) -> str:
    def quoted(ch: str) -> int:
        return 2 if ch in '"\\' else 1

    if sum(map(quoted, display)) <= _MAX_QUOTED_NAME:
        return display
    kept, size = [], 1  # 1: the ellipsis
    for ch in display:
        size += quoted(ch)
        if size > _MAX_QUOTED_NAME:
            break
        kept.append(ch)
    return "".join(kept).rstrip() + "…"


@lru_cache(maxsize=4096)  # the sender, and each recipient's several emails a pass
def _address(value: str, name: str | None = None) -> tuple[str, str]:
    """``"Name <a@b>"`` or ``"a@b"`` (with ``name``) -> (display name, address);
    raises ValueError."""
    value = one_line(value)
    if _BARE_ADDRESS.match(value):  # most of them (roster addresses): nothing to parse
        parsed_name, addr = "", value
    else:
        parsed_name, addr = parseaddr(value)
    if not addr or "@" not in addr or addr.startswith("@") or addr.endswith("@"):
        raise ValueError(f"not an email address: {value!r}")
    display = _fits_one_line(one_line(name if name is not None else parsed_name))
    return display, addr


def _message_id(value: str) -> str:
    value = value.strip()
    if not _MSGID_RE.match(value):
        raise ValueError(f"not a Message-ID like <id@domain>: {value!r}")
    return value


MAX_LINE = 78  # RFC 5322's recommended limit, which the headers are folded to
_CRLF = "\r\n"


def _unstructured(name: str, value: str) -> str:
    """``Name: value``, folded; non-ASCII (or unfoldable) text as encoded words."""
    if value.isascii() and len(name) + 2 + len(value) <= MAX_LINE and "=?" not in value:
        return f"{name}: {value}"
    plain = value.isascii() and "=?" not in value and max(map(len, value.split()), default=0) < 60
    header = Header(value, "us-ascii" if plain else "utf-8", header_name=name)
    return f"{name}: {header.encode(linesep=_CRLF, maxlinelen=MAX_LINE)}"


def _address_header(name: str, display: str, addr: str) -> tuple[str, bool]:
    """``Name: Display <addr>`` and whether it holds raw UTF-8 (an address that is not
    ASCII, which only SMTPUTF8 can carry)."""
    if not addr.isascii():
        quoted = display.replace("\\", "\\\\").replace('"', '\\"')
        return (f'{name}: "{quoted}" <{addr}>' if display else f"{name}: {addr}"), True
    if not display:
        return f"{name}: {addr}", False
    if display.isascii() and "=?" not in display:
        return f"{name}: {formataddr((display, addr))}", False
    words = Header(display, "utf-8", header_name=name).encode(linesep=_CRLF, maxlinelen=MAX_LINE)
    return f"{name}: {words} <{addr}>", False


def _body_part(content_type: str, text: str) -> str:
    """One text part: 7bit when it is short-lined ASCII, else quoted-printable."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii() and all(len(line) <= MAX_LINE for line in text.split("\n")):
        encoding, body = "7bit", text
    else:
        encoding = "quoted-printable"
        body = binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii")
    if not body.endswith("\n"):
        body += "\n"
    return (f'Content-Type: {content_type}; charset="utf-8"{_CRLF}'
            f"Content-Transfer-Encoding: {encoding}{_CRLF}{_CRLF}"
            + body.replace("\n", _CRLF))


def _boundary(*parts: str) -> str:
    """A boundary none of the parts contains (quoted-printable text never holds "=_")."""
    while True:
        boundary = f"=_mailflow_{secrets.token_hex(12)}"
        if not any(boundary in part for part in parts):
            return boundary


@dataclass(frozen=True)
class OutgoingMessage:
    """A composed email: the bytes of SMTP DATA, and what the envelope needs."""

    data: bytes  # the whole message, CRLF line endings
    message_id: str
    sender: str  # the From address
    utf8: bool  # the headers hold raw UTF-8 (an address that is not ASCII): needs SMTPUTF8

    def __bytes__(self) -> bytes:
        return self.data

    def email(self) -> EmailMessage:
        """The message as the standard library parses it, to inspect or show."""
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


def build_message(
    rendered: RenderedEmail,
    *,
    sender: str,
    to: str,
    to_name: str,
    reply_to: str,
    message_id: str,
    kind: str,
    pair_id: str | None,
    date: datetime,
    in_reply_to: str | None = None,
) -> OutgoingMessage:
    """The message to hand to SMTP. ``sender`` is ``"Name <address>"`` (``[mail].from``);
    ``reply_to`` the address replies go to (with its +mf- token); ``message_id`` the
    deterministic ``<...@domain>`` of the outbox entry; ``date`` should be aware
    (a naive one is taken as UTC). Raises ValueError for a bad address or id."""
    from_name, from_addr = _address(sender)
    to_display, to_addr = _address(to, to_name)
    reply_name, reply_addr = _address(reply_to)
    msgid = _message_id(message_id)
    parent = _message_id(in_reply_to) if in_reply_to else None
    addressed = [_address_header("From", from_name, from_addr),
                 _address_header("To", to_display, to_addr),
                 _address_header("Reply-To", reply_name, reply_addr)]
    headers = [_unstructured("Subject", one_line(rendered.subject))]
    headers += [line for line, _ in addressed]
    headers += [
        f"Date: {format_datetime(date if date.tzinfo else date.replace(tzinfo=UTC))}",
        f"Message-ID: {msgid}",
    ]
    if parent:
        headers += [f"In-Reply-To: {parent}", f"References: {parent}"]
    headers += [
        "Auto-Submitted: auto-generated",
        # Ask Exchange/Outlook not to answer with out-of-office notes (bounces still come).
        "X-Auto-Response-Suppress: OOF, AutoReply",
        _unstructured("X-Mailflow-Kind", one_line(str(kind))),
    ]
    if pair_id:
        headers.append(_unstructured("X-Mailflow-Pair", one_line(pair_id)))
    text = _body_part("text/plain", rendered.text)
    html = _body_part("text/html", rendered.html)
    boundary = _boundary(text, html)
    headers += ["MIME-Version: 1.0",
                f'Content-Type: multipart/alternative;{_CRLF} boundary="{boundary}"']
    data = (_CRLF.join(headers) + _CRLF + _CRLF
            # the line break before a delimiter belongs to the delimiter (RFC 2046)
            + f"--{boundary}{_CRLF}{text}{_CRLF}--{boundary}{_CRLF}{html}{_CRLF}"
            + f"--{boundary}--{_CRLF}")
    utf8 = any(raw for _, raw in addressed)
    return OutgoingMessage(data.encode("utf-8" if utf8 else "ascii"), msgid, from_addr, utf8)
