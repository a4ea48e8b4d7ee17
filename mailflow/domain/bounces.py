"""Bounces, delivery reports and complaints: what a machine told us about our mail.

RFC 3464 delivery status notifications and RFC 5965 feedback reports are read
directly; non-standard bounces (qmail, old Exchange, Yahoo, ...) go to
flufl.bounce, GNU Mailman's detectors, once the message looks like a bounce.
Amazon SES JSON notifications are read too. Pure: a parsed message in, a verdict out.
"""

from __future__ import annotations

import email
import json
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from functools import lru_cache

from flufl.bounce import all_failures

BOUNCE, DELIVERY_REPORT, COMPLAINT = "bounce", "delivery_report", "complaint"

_ADDR_RE = re.compile(r"[^\s<>()\"';,:\[\]]+@[^\s<>()\"';,:\[\]]+[A-Za-z0-9]")
_LONE_ADDR_RE = re.compile(r"^\s*<?([^\s<>()\"';,:@]+@[\w.-]+\.[A-Za-z]{2,})>?:?\s*$", re.MULTILINE)
_INLINE_DSN_RE = re.compile(
    r"^\s*(final-recipient|original-recipient|action|status):\s*(.+)$", re.IGNORECASE | re.MULTILINE
)
_STATUS_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_MSGID_RE = re.compile(r"^\s*Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_DAEMON_RE = re.compile(
    r"^(mailer-daemon|postmaster|mail-daemon|maildaemon|mdaemon|mail\.?delivery|"
    r"mail-delivery|bounce[s]?|nobody|root)\b|mail delivery (subsystem|system)",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT_RE = re.compile(
    r"undeliver|undelivered|delivery (status notification|failure|failed|has failed|problem|"
    r"notification|report)|returned mail|failure notice|mail delivery failed|non[- ]?deliver|"
    r"could not be delivered|not be delivered|delivery fail|mail system error|returned to sender|"
    r"permanent error|message not delivered|failed delivery|delayed mail|warning: could not send|"
    r"unzustellbar|non remis|rejected|unable to deliver|message delayed|delivery delayed|"
    r"delivery incomplete|mail failure|bounced|error sending|nicht zustellbar|undelivered mail|"
    r"loop alert|メールエラー|エラー通知|配信エラー|送信エラー|配送エラー|不達|配達不能",
    re.IGNORECASE,
)
_TEMPORARY_TEXT_RE = re.compile(
    r"delayed|will (continue|retry|be retried)|temporar|has not yet been delivered|"
    r"still (undelivered|trying)|warning: message|retry timeout not yet|deferred",
    re.IGNORECASE,
)
# In the text of a message that has the returned message attached (KDDI's au one net,
# other gateways that write their own words and no DSN).
_RETURNED_TEXT_RE = re.compile(
    r"could not be delivered|undeliverable|delivery (has )?failed|mailbox is full|"
    r"user unknown|no such user|does not exist|address rejected|permanent(ly)? fail",
    re.IGNORECASE,
)
_SUBJECT_CHARS = 1_000  # of a subject read for bounce words: theirs are short
_RETURNED_TYPES = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers")
_COMPLAINT_SUBJECT_RE = re.compile(
    r"complaint about message|abuse report|spam report|feedback report", re.IGNORECASE
)


@dataclass(frozen=True)
class BounceInfo:
    recipients: tuple[str, ...]
    temporary: bool
    status: str
    original_message_ids: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    kind: str  # BOUNCE, DELIVERY_REPORT or COMPLAINT
    bounce: BounceInfo | None = None


def _bare(value: str) -> str:
    """'rfc822; <User@Example.org>' -> 'user@example.org' ('' if none)."""
    match = _ADDR_RE.search(value.rpartition(";")[2] or value)
    return match.group(0).strip(".").lower() if match else ""


def _report_text(msg: Message) -> str:
    """The bounce's own words: its text parts, not the returned message attached to it."""
    if msg.get_content_type() in ("message/rfc822", "text/rfc822-headers", "message/global"):
        return ""
    if msg.is_multipart():
        payload = msg.get_payload()
        subparts = payload if isinstance(payload, list) else []
        return "\n".join(_report_text(p) for p in subparts if isinstance(p, Message))
    return _text_of(msg) if msg.get_content_maintype() == "text" else ""


def _inline_dsn(text: str) -> list[Message]:
    """DSN fields pasted into a text part (Amazon WorkMail, some gateways): one block each."""
    blocks: list[Message] = []
    current = Message()
    for name, value in _INLINE_DSN_RE.findall(text):
        key = name.title()
        if key.endswith("Recipient") and current.get("Final-Recipient"):
            blocks.append(current)
            current = Message()
        current[key] = value.strip()
    return [*blocks, current] if current.keys() else blocks


def _parts(msg: Message) -> list[Message]:
    try:
        return list(msg.walk())
    except Exception:  # a broken multipart still has its top part
        return [msg]


def _text_of(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload.decode(charset, "replace")
        except LookupError:
            return payload.decode("utf-8", "replace")
    raw = part.get_payload()
    return raw if isinstance(raw, str) else ""


def original_message_ids(msg: Message) -> tuple[str, ...]:
    """Message-IDs of the returned message: its attached copy, its headers, or inline."""
    own = str(msg.get("Message-ID", "")).strip()
    found: list[str] = []
    for part in _parts(msg):
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global") and part.is_multipart():
            inner = part.get_payload(0)
            if isinstance(inner, Message) and inner.get("Message-ID"):
                found.append(str(inner["Message-ID"]).strip())
        elif ctype in ("text/rfc822-headers", "message/rfc822-headers", "text/plain"):
            found += _MSGID_RE.findall(_text_of(part))
    return tuple(dict.fromkeys(m for m in found if m and m != own))


def _dsn_blocks(parts: list[tuple[Message, str]]) -> list[Message] | None:
    for part, ctype in parts:
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            payload = part.get_payload()
            if isinstance(payload, list):
                return [b for b in payload if isinstance(b, Message)]
            text = payload if isinstance(payload, str) else _text_of(part)
            return [email.message_from_string(b) for b in re.split(r"\n\s*\n", text) if b.strip()]
    return None


def _from_dsn(msg: Message, blocks: list[Message]) -> Verdict | None:
    recipients: list[str] = []
    actions: list[str] = []
    statuses: list[str] = []
    for block in blocks:
        options = [_bare(str(block.get(h, ""))) for h in ("Final-Recipient", "Original-Recipient")]
        rcpt = next((r for r in options if "." in r.partition("@")[2]), options[0] or options[1])
        action = str(block.get("Action", "")).strip().lower().split(" ")[0]
        status_match = _STATUS_RE.search(str(block.get("Status", "")))
        if not (rcpt or action):
            continue
        if rcpt:
            recipients.append(rcpt)
        if status_match:
            statuses.append(status_match.group(0))
        actions.append(action or ("failed" if status_match and statuses[-1][0] == "5" else ""))
    if not actions:
        return None
    if all(a in ("delivered", "relayed", "expanded") for a in actions):
        return Verdict(DELIVERY_REPORT)
    hard = "failed" in actions or any(s.startswith("5") for s in statuses)
    status = next((s for s in statuses if s[0] == ("5" if hard else "4")), "")
    status = status or (statuses[0] if statuses else ("5.0.0" if hard else "4.0.0"))
    info = BounceInfo(
        tuple(dict.fromkeys(recipients)), not hard, status, original_message_ids(msg)
    )
    return Verdict(BOUNCE, info)


def _is_feedback_report(msg: Message, parts: list[tuple[Message, str]]) -> bool:
    report_type = str(msg.get_param("report-type", "")).lower()
    if parts[0][1] == "multipart/report" and report_type == "feedback-report":
        return True
    if any(ctype == "message/feedback-report" for _, ctype in parts):
        return True
    subject = str(msg.get("Subject", ""))
    attached = any(ctype == "message/rfc822" for _, ctype in parts)
    return attached and bool(_COMPLAINT_SUBJECT_RE.search(subject))


def _from_ses_json(msg: Message) -> Verdict | None:
    """Amazon SES notifications delivered by mail (SNS): a JSON body."""
    if msg.is_multipart():
        return None
    body = _text_of(msg).strip()
    if not body.startswith("{") or "notificationType" not in body:
        return None
    try:  # the JSON, and after it maybe SNS's "--\nIf you wish to stop..." footer
        data, _ = json.JSONDecoder(strict=False).raw_decode(body)  # folded lines too
        if isinstance(data, dict) and isinstance(data.get("Message"), str):
            data = json.loads(data["Message"], strict=False)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    kind = str(data.get("notificationType", "")).lower()
    if kind == "complaint":
        return Verdict(COMPLAINT)
    if kind == "delivery":
        return Verdict(DELIVERY_REPORT)
    if kind != "bounce":
        return None
    bounce = data.get("bounce") or {}
    rows = bounce.get("bouncedRecipients") or []
    recipients = tuple(_bare(str(r.get("emailAddress", ""))) for r in rows if isinstance(r, dict))
    status = next((str(r["status"]) for r in rows if isinstance(r, dict) and r.get("status")), "")
    temporary = str(bounce.get("bounceType", "")).lower() == "transient"
    status = status or ("4.0.0" if temporary else "5.0.0")
    mail = data.get("mail") or {}
    ids = tuple(f"<{mail['messageId']}>" for _ in [0] if mail.get("messageId"))
    return Verdict(BOUNCE, BounceInfo(tuple(r for r in recipients if r), temporary, status, ids))


def _looks_like_bounce(msg: Message, parts: list[tuple[Message, str]]) -> bool:
    sender = str(msg.get("From", ""))
    local_or_name = sender.split("<")[0].strip(' "') or sender
    if _DAEMON_RE.search(local_or_name) or _DAEMON_RE.search(_bare(sender)):
        return True
    if msg.get_content_type() == "multipart/report":
        return True
    if _bounce_subject(_decoded(str(msg.get("Subject", ""))[:_SUBJECT_CHARS])):
        return True
    return any(ctype in _RETURNED_TYPES for _, ctype in parts) and bool(
        _RETURNED_TEXT_RE.search(_report_text(msg)[:4000]))


def _decoded(subject: str) -> str:
    """The subject with its encoded words ("=?utf-8?B?...?=") decoded."""
    if "=?" not in subject:
        return subject
    try:
        return str(make_header(decode_header(subject)))
    except Exception:  # a broken encoded word: the raw text is all there is
        return subject


@lru_cache(maxsize=4096)
def _bounce_subject(subject: str) -> bool:
    """Remembered by subject: most mail a program gets answers a few subjects of its own."""
    return _BOUNCE_SUBJECT_RE.search(subject) is not None


def _from_heuristics(msg: Message, looks_like_bounce: bool) -> Verdict | None:
    if not looks_like_bounce:
        return None
    try:
        temp, perm = all_failures(msg)
    except Exception:  # flufl's detectors are many and old; a crash is "found nothing"
        temp, perm = frozenset(), frozenset()
    found = [a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in perm | temp]
    text = _report_text(msg)
    if not found:  # "could not be delivered to the following recipients:\n  user@host"
        found = [m.group(1) for m in _LONE_ADDR_RE.finditer(text)][:20]
    recipients = tuple(dict.fromkeys(r for r in map(_bare, found) if r))
    status_match = _STATUS_RE.search(text)
    status = status_match.group(0) if status_match and status_match.group(1) != "2" else ""
    if status:
        temporary = status.startswith("4")
    elif recipients and not perm:
        temporary = True
    else:
        temporary = bool(_TEMPORARY_TEXT_RE.search(text[:4000])) and not perm
    status = status or ("4.0.0" if temporary else "5.0.0")
    return Verdict(BOUNCE, BounceInfo(recipients, temporary, status, original_message_ids(msg)))


def inspect_report(msg: Message) -> Verdict | None:
    """A bounce, delivery report or complaint verdict for msg, or None for anything else."""
    # the parts with their content types, and whether it looks like a bounce, are read
    # once here (each check used to walk the message or read its headers again)
    parts = [(part, part.get_content_type()) for part in _parts(msg)]
    if _is_feedback_report(msg, parts):
        return Verdict(COMPLAINT)
    blocks = _dsn_blocks(parts)
    looks_like_bounce = None
    if blocks is None:
        looks_like_bounce = _looks_like_bounce(msg, parts)
        if looks_like_bounce:
            blocks = _inline_dsn(_report_text(msg))
    if blocks:
        verdict = _from_dsn(msg, blocks)
        if verdict is not None:
            return verdict
    return _from_ses_json(msg) or _from_heuristics(
        msg, _looks_like_bounce(msg, parts) if looks_like_bounce is None else looks_like_bounce)
