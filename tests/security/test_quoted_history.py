"""A keyword in a copy of our own email never acts, even when the copy has no "> " marks
and sits under an attribution no parser knows: mailflow compares the reply with the email
it sent in that thread (rendered again), through the real SMTP server and Dovecot."""

from __future__ import annotations

from pathlib import Path

import pytest
from dovecot import ImapAccount
from helpers import events, program_on_servers, reply, sent_to
from smtp_server import RecordingSmtpServer

from mailflow.domain.model import EventType

ZOE = "Zoë Ñúñez <zoe@lib.example>"


def _unmarked_copy_with_help(intro_text: str) -> str:
    """The intro as a client pastes it under a reply: no marks, a HELP line in its middle."""
    lines = intro_text.strip().split("\n")
    middle = len(lines) // 2
    return "\n".join([*lines[:middle], "HELP", *lines[middle:]])


@pytest.mark.parametrize("layout", ["top", "bottom", "attribution"])
def test_help_in_an_unmarked_copy_of_our_email_never_acts(
        layout: str, tmp_path: Path, smtp_server: RecordingSmtpServer,
        imap_account: ImapAccount) -> None:
    program = program_on_servers(tmp_path / "p", smtp_server, imap_account)
    intro = sent_to(smtp_server, "zoe@lib.example", "intro")
    text_part = intro.get_body(("plain",))
    assert text_part is not None
    history = _unmarked_copy_with_help(text_part.get_content())
    body = {
        "top": f"MET yesterday, coffee at the branch.\n\n{history}\n",
        "bottom": f"{history}\n\nMET yesterday, coffee at the branch.\n",
        "attribution": f"MET yesterday, coffee at the branch.\n\nSent by the Foo Mail app on "
                       f"the 4th the committee said\n{history}\n",
    }[layout]
    imap_account.append([reply(intro, ZOE, body)])
    report, _ = program.poll()
    assert report.outcomes["reply"] == 1
    assert [e.type for e in events(program)] == [EventType.MET]
    with program.app().repository(readonly=True) as repo:
        assert repo.escalations() == []


def test_a_help_of_the_participant_still_acts(
        tmp_path: Path, smtp_server: RecordingSmtpServer, imap_account: ImapAccount) -> None:
    """Control: the same reply, HELP written above the copy, escalates."""
    program = program_on_servers(tmp_path / "p", smtp_server, imap_account)
    intro = sent_to(smtp_server, "zoe@lib.example", "intro")
    text_part = intro.get_body(("plain",))
    assert text_part is not None
    body = f"HELP we cannot find a time\n\n{text_part.get_content()}\n"
    imap_account.append([reply(intro, ZOE, body)])
    program.poll()
    assert EventType.HELP in [e.type for e in events(program)]
    with program.app().repository(readonly=True) as repo:
        assert len(repo.escalations()) == 1


def test_a_reply_below_an_unmarked_copy_with_no_keyword_in_it_is_kept(
        tmp_path: Path, smtp_server: RecordingSmtpServer, imap_account: ImapAccount) -> None:
    """The copy (cut short by the parser at our "---" rule) holds no keyword itself; the
    MET written below it is the reply."""
    program = program_on_servers(tmp_path / "p", smtp_server, imap_account)
    intro = sent_to(smtp_server, "zoe@lib.example", "intro")
    text_part = intro.get_body(("plain",))
    assert text_part is not None
    body = f"{text_part.get_content().strip()}\n\nMET yesterday, coffee at the branch.\n"
    imap_account.append([reply(intro, ZOE, body)])
    program.poll()
    assert [e.type for e in events(program)] == [EventType.MET]
