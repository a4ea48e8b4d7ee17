"""CONTACTED, RATING, DONE and UNDO through Dovecot: stored, exported, in acks and digests."""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from dovecot import ImapAccount
from programs import Program, program_polling
from smtp_server import RecordingSmtpServer
from test_inbound_replies import reply_to

from mailflow.services import export
from mailflow.services.state import ProgramState

START = date(2027, 1, 4)  # a Monday: the digests go out on Mondays
ROWS = ["A,Ann Mentor,ann@lib.example,Zoë Ñúñez,zoe@lib.example,Lia One,l1@lib.example,,,"]


@pytest.fixture
def server() -> RecordingSmtpServer:
    with RecordingSmtpServer() as srv:
        yield srv


@pytest.fixture
def program(tmp_path: Path, server: RecordingSmtpServer, imap_account: ImapAccount) -> Program:
    program = program_polling(tmp_path / "p", imap_account, start=START,
                              rows=ROWS, smtp_port=server.port)
    program.at(START)
    program.send_due()
    return program


def _last(server: RecordingSmtpServer, to: str, kind: str) -> EmailMessage:
    found = [m for m in (r.message() for r in server.messages)
             if to in str(m["To"]) and m["X-Mailflow-Kind"] == kind]
    assert found, f"no {kind} to {to}"
    return found[-1]


def _text(msg: EmailMessage) -> str:
    return " ".join(msg.get_body(("plain",)).get_content().split())


def test_a_week_of_the_new_keywords(program: Program, server: RecordingSmtpServer,
                                    imap_account: ImapAccount) -> None:
    intro_zoe = _last(server, "zoe@lib.example", "intro")
    intro_ann = _last(server, "ann@lib.example", "intro")
    imap_account.append([
        reply_to(intro_ann, "ann@lib.example", "CONTACTED we emailed and set a date"),
        reply_to(intro_zoe, "zoe@lib.example", "GOAL learn cataloguing\n\nGOAL present a "
                 "poster at the state conference\n\nRATING 2 we have not found a rhythm yet"),
    ])
    program.poll()
    assert "Rating: 2 of 5 (Lia One, your liaison, will see it)" in _text(
        _last(server, "zoe@lib.example", "ack"))

    program.at(START + timedelta(days=1))
    imap_account.append([reply_to(intro_zoe, "zoe@lib.example", "DONE 2\nMET 2027-01-04")])
    program.poll()
    assert "Goal 2 reached: present a poster at the state conference" in _text(
        _last(server, "zoe@lib.example", "ack"))

    program.at(START + timedelta(days=2))
    imap_account.append([reply_to(intro_zoe, "zoe@lib.example", "UNDO")])
    program.poll()
    ack = _text(_last(server, "zoe@lib.example", "ack"))
    assert "Withdrawn: MET January 4, 2027" in ack  # the MET was the last thing she sent

    with program.app().repository(readonly=True) as repo:
        records = export.rows(repo, "events")
        csv_text = export.render(records, "events", "csv")
    assert all(list(r) == list(export.FIELDS["events"]) for r in records)
    assert csv_text.splitlines()[0] == (
        "time,pair_id,person,role,type,date,text,message_id,value")
    values = [(r["person"], r["type"], r["value"]) for r in json.loads(
        export.render(records, "events", "json"))]
    assert values == [
        ("ann@lib.example", "contacted", ""), ("zoe@lib.example", "goal", ""),
        ("zoe@lib.example", "goal", ""), ("zoe@lib.example", "rating", "2"),
        ("zoe@lib.example", "goal_done", "2"), ("zoe@lib.example", "met", ""),
        ("zoe@lib.example", "undone", "met"),
    ]
    app = program.app()
    with app.repository(readonly=True) as repo:
        state = ProgramState.load(repo, app.settings.program_model(), program.clock.now())
    assert state.last_met("A") is None  # the undone MET no longer counts
    assert [(g.number, g.reached) for g in state.goals("A")] == [(1, False), (2, True)]

    # the liaison's next digest lists the low rating, even in the pair's first month
    program.at(START + timedelta(days=7), hour=9)
    program.send_due(digests=True)
    digest = _text(_last(server, "l1@lib.example", "digest"))
    assert "Zoë Ñúñez (mentee) rated the mentorship 2 of 5" in digest
    assert "low rating" in digest
    program.at(START + timedelta(days=14), hour=9)
    program.send_due(digests=True)
    with program.app().repository(readonly=True) as repo:
        digests = sorted((e.due_at.date(), str(e.status)) for e in repo.outbox()
                         if e.kind == "digest" and e.person == "l1@lib.example")
    # told once: the week after there is nothing new and nothing open (digest_when = attention)
    assert digests == [(START + timedelta(days=7), "sent"), (START + timedelta(days=14), "skipped")]
