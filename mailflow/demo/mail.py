"""The mail the demo's simulated people write back, as real mail programs write it.

A reply is threaded (In-Reply-To / References), goes to the Reply-To address with
its +mf- token, and quotes the original below the new text, Gmail-style ("On ...
wrote:" and "> " lines) or Outlook-style (a From:/Sent:/To:/Subject: block). An
out-of-office note carries ``Auto-Submitted: auto-replied``; a bounce is a DSN
(``multipart/report; report-type=delivery-status``) from the receiving server's
MAILER-DAEMON to the envelope sender, returning the original headers.
"""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr

CLIENT_DOMAIN = "mail.demo.example"


def _plain_text(original: EmailMessage) -> str:
    body = original.get_body(("plain",))
    return str(body.get_content()) if body is not None else ""


def _sender_line(original: EmailMessage) -> str:
    name, address = parseaddr(str(original["From"]))
    return f"{name} <{address}>" if name else address


def gmail_quote(original: EmailMessage) -> str:
    when = sent_date(original).strftime("%a, %b %-d, %Y at %-I:%M %p")
    quoted = "\n".join(("> " + line).rstrip() for line in _plain_text(original).splitlines())
    return f"On {when} {_sender_line(original)} wrote:\n\n{quoted}\n"


def outlook_quote(original: EmailMessage) -> str:
    when = sent_date(original).strftime("%A, %B %-d, %Y %-I:%M %p")
    return ("________________________________\n"
            f"From: {_sender_line(original)}\nSent: {when}\nTo: {original['To']}\n"
            f"Subject: {original['Subject']}\n\n{_plain_text(original)}")


def sent_date(msg: EmailMessage) -> datetime:
    value = msg["Date"]
    moment = getattr(value, "datetime", None)
    return moment if isinstance(moment, datetime) else datetime.now().astimezone()


def reply(original: EmailMessage, sender: str, body: str, at: datetime, *,
          style: str = "gmail", from_address: str | None = None,
          headers: dict[str, str] | None = None) -> bytes:
    """A reply to ``original`` from ``sender`` ("Name <address>"), written at ``at``."""
    msg = EmailMessage()
    name, address = parseaddr(sender)
    msg["From"] = _format(name, from_address or address)
    msg["To"] = str(original["Reply-To"] or original["From"])
    subject = str(original["Subject"])
    msg["Subject"] = subject if subject.lower().startswith("re:") else "Re: " + subject
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = make_msgid(domain=CLIENT_DOMAIN)
    parent = str(original["Message-ID"])
    msg["In-Reply-To"] = parent
    refs = str(original.get("References", "")).split()
    msg["References"] = " ".join([*refs, parent]) if parent not in refs else " ".join(refs)
    for key, value in (headers or {}).items():
        msg[key] = value
    quote = outlook_quote(original) if style == "outlook" else gmail_quote(original)
    msg.set_content(body.rstrip() + "\n\n" + quote)
    return bytes(msg)


def _format(name: str, address: str) -> str:
    return str(Address(name, addr_spec=address)) if name else address


def out_of_office(original: EmailMessage, sender: str, at: datetime, back: str) -> bytes:
    """A vacation responder's note (RFC 3834), to the address the original came from."""
    msg = EmailMessage()
    name, address = parseaddr(sender)
    msg["From"] = _format(name, address)
    msg["To"] = str(original["Reply-To"] or original["From"])
    msg["Subject"] = "Out of office: " + str(original["Subject"])
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = make_msgid(domain=CLIENT_DOMAIN)
    msg["In-Reply-To"] = str(original["Message-ID"])
    msg["References"] = str(original["Message-ID"])
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Autoreply"] = "yes"
    msg.set_content(
        f"Thank you for your message. I am out of the office until {back}, with limited\n"
        "access to email. For urgent matters please contact the reference desk.\n\n"
        f"{name or address}\n")
    return bytes(msg)


def bounce(original: EmailMessage, envelope_from: str, at: datetime, *,
           reporting_mta: str, status: str, diagnostic: str) -> bytes:
    """A delivery status notification (RFC 3464) saying ``original`` could not be delivered."""
    recipient = getaddresses([str(original["To"])])[0][1]
    when = format_datetime(at)
    returned = "".join(f"{key}: {original[key]}\r\n" for key in
                       ("From", "To", "Subject", "Date", "Message-ID", "X-Mailflow-Kind")
                       if original[key] is not None)
    boundary = "=_dsn_" + make_msgid(domain="b").strip("<>").replace("@", "_").replace(".", "_")
    text = (
        f"From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>\r\n"
        f"To: {envelope_from}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {when}\r\n"
        f"Message-ID: {make_msgid(domain=reporting_mta)}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        f' boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"This is the mail system at host {reporting_mta}.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n\r\n"
        f"<{recipient}>: {diagnostic}\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; {reporting_mta}\r\nArrival-Date: {when}\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822; {recipient}\r\n"
        f"Action: failed\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {diagnostic}\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{returned}"
        f"--{boundary}--\r\n"
    )
    return text.encode("utf-8")
