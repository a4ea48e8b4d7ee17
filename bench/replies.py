"""Replies as participants' mail programs write them, threaded to mailflow's intros.

One reply per pair (mentor and mentee take turns), sent to the intro's
Reply-To address with In-Reply-To/References naming its Message-ID, with a
text part and an HTML part that both quote the original below the new text.
The new text carries the keywords a program sees most (MET, GOAL, NOT MET,
a plain thank-you note, now and then HELP).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from email.utils import format_datetime, formataddr
from html import escape

from mailflow.domain.keys import reply_address
from mailflow.domain.model import Kind, OutboxEntry

NEW_TEXTS = (
    "MET yesterday. We talked about how each of us came to librarianship.",
    "MET today, a long coffee; we agreed to meet on the first Tuesday of each month.",
    "Met on Monday over video. Good first conversation about goals.",
    "GOAL Present a poster at the state library conference\nGOAL Learn original cataloguing",
    "NOT MET - we could not find a time yet, trying again next week.",
    "Thank you, I am looking forward to this!",
    "MET yesterday\nGOAL Apply for the management course in the spring",
    "met today. Lovely to finally talk.",
    "MET 2 days ago, we talked about the reference desk.",
    "Thanks for the introduction, we have set a date.",
)
HELP_TEXT = "HELP we have not been able to reach each other at all."

QUOTED = (
    "Welcome to the mentoring program! You have been matched for the coming\n"
    "nine months. Please send your introductory email within a week and agree\n"
    "how and when you will meet. Things to consider as the relationship begins:\n"
    "\n"
    "- What do you hope to learn, and what can you offer?\n"
    "- How often will you meet, and how: in person, by phone, by video?\n"
    "- What is confidential between you?\n"
    "\n"
    "Each month you will receive a discussion topic. Reply to any of our emails\n"
    "with MET when you have met, GOAL followed by a goal, or HELP if you need\n"
    "the committee. Your liaison is there for you throughout the program.\n"
) * 2

TEMPLATE = (
    "From: {sender}\r\n"
    "To: {to}\r\n"
    "Subject: Re: {subject}\r\n"
    "Date: {date}\r\n"
    "Message-ID: <reply-{n}.{stamp}@client.example>\r\n"
    "In-Reply-To: {parent}\r\n"
    "References: {parent}\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"=_b{n}\"\r\n"
    "\r\n"
    "--=_b{n}\r\n"
    "Content-Type: text/plain; charset=\"utf-8\"\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "{text}\r\n"
    "--=_b{n}\r\n"
    "Content-Type: text/html; charset=\"utf-8\"\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "{html}\r\n"
    "--=_b{n}--\r\n"
)


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def intros_by_person(outbox: list[OutboxEntry]) -> dict[tuple[str, str], OutboxEntry]:
    return {(e.pair_id, e.person): e for e in outbox if e.kind == Kind.INTRO}


def replies(pairs: list[tuple[str, str, str]], intros: dict[tuple[str, str], OutboxEntry],
            sent_at: datetime, reply_base: str = "mentoring@lib.example") -> Iterator[bytes]:
    """`pairs`: (pair_id, mentor email, mentee email) rows; one reply per pair."""
    quoted = "\n".join("> " + line if line else ">" for line in QUOTED.splitlines())
    wrote = f"On {format_datetime(sent_at)}, Mentoring Committee <mentoring@lib.example> wrote:"
    date = format_datetime(sent_at + timedelta(hours=5))
    stamp = int(sent_at.timestamp())
    for n, (pair_id, mentor, mentee) in enumerate(pairs):
        person = mentor if n % 2 == 0 else mentee
        intro = intros[(pair_id, person)]
        new = HELP_TEXT if n % 100 == 99 else NEW_TEXTS[n % len(NEW_TEXTS)]
        name = ("Zoë Ñúñez " if n % 7 == 3 else "Alex ") + person.split("@")[0]
        text = f"{new}\n\n{wrote}\n{quoted}\n"
        html = (f"<html><body><div>{escape(new).replace(chr(10), '<br>')}</div><br>"
                f"<div class=\"gmail_quote\">{escape(wrote)}<blockquote>"
                f"{escape(QUOTED).replace(chr(10), '<br>')}</blockquote></div></body></html>")
        yield TEMPLATE.format(
            sender=formataddr((name, person)), to=reply_address(reply_base, intro.key),
            subject="Welcome to the mentoring program", date=date, n=n, stamp=stamp,
            parent=intro.message_id, text=_crlf(text), html=html,
        ).encode("utf-8")
