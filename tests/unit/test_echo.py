"""without_sent_text: a block of the reply that repeats the email we sent is history."""

from __future__ import annotations

import pytest

from mailflow.domain.echo import without_sent_text

SENT = """Dear Zoë,

Welcome to the **Test Mentoring Program**! We are delighted to introduce your mentor,
Ann Mentor (ann@lib.example). Your mentorship begins on Monday, 4 January 2027.

## What happens first

Ann will email you within the next week to introduce themselves and suggest times for a
first meeting. If you have not heard anything by 14 January, reply HELP.

- MET: we met. Add the date and a few notes if you like
- HELP: ask your liaison to get in touch"""

# The same email as an HTML client pastes it: paragraphs on one line, no Markdown.
PASTED = """Dear Zoë,
Welcome to the Test Mentoring Program! We are delighted to introduce your mentor, Ann Mentor (ann@lib.example). Your mentorship begins on Monday, 4 January 2027.
What happens first
Ann will email you within the next week to introduce themselves and suggest times for a first meeting. If you have not heard anything by 14 January, reply HELP.
HELP
  * MET: we met. Add the date and a few notes if you like
  * HELP: ask your liaison to get in touch"""  # noqa: E501


@pytest.mark.parametrize("copy", [SENT, PASTED], ids=["as sent", "pasted"])
def test_top_posted_reply_keeps_only_what_is_above_the_copy(copy: str) -> None:
    reply = f"MET yesterday, coffee at the branch.\nThanks!\n\n{copy}"
    assert without_sent_text(reply, SENT) == "MET yesterday, coffee at the branch.\nThanks!"


def test_bottom_posted_reply_keeps_what_follows_the_copy() -> None:
    reply = f"{PASTED}\n\nGOAL present a poster at the state conference"
    assert without_sent_text(reply, SENT) == "GOAL present a poster at the state conference"


def test_an_attribution_line_above_the_copy_is_not_the_reply() -> None:
    reply = f"Sent on the 4th, the committee said:\n{PASTED}\n\nMET today"
    assert without_sent_text(reply, SENT) == "MET today"


@pytest.mark.parametrize(
    "reply",
    ["MET yesterday\nWe talked about her first meeting and the goals she has for the year.\n"
     "GOAL present a poster",
     "Thanks! Ann will email me within the next week, she said.\nMET today",
     # one sentence of ours, quoted to answer it: not a copy of the email
     "You wrote: Ann will email you within the next week to introduce themselves and "
     "suggest times for a first meeting.\nShe did, thanks.\nMET today"],
)
def test_a_reply_that_does_not_repeat_our_email_is_kept_whole(reply: str) -> None:
    assert without_sent_text(reply, SENT) == reply


def test_no_sent_text_changes_nothing() -> None:
    assert without_sent_text(f"MET\n{PASTED}", "") == f"MET\n{PASTED}"
