"""Rematches and several mentors (SPEC section 6): the roster rules against the store,
and which pair a reply then belongs to (the thread decides; no thread, several active
pairs: quarantined with the reason, never guessed)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from programs import ROSTER_HEADER, Program, make_program
from smtp_server import RecordingSmtpServer

from mailflow.domain.model import EventType, PairState
from mailflow.errors import RosterError
from mailflow.services.inbound import PROCESSED, QUARANTINED, Inbound
from mailflow.services.pairs import end_pair
from mailflow.services.state import ProgramState

START = date(2027, 1, 4)
FIRST = "P1,Ann Mentor,ann@lib.example,Zoë Ñúñez,zoe@lib.example,Lia,lia@lib.example,,,"
SECOND = (f"P2,Bo Mentor,bo@lib.example,Zoë Ñúñez,zoe@lib.example,Lia,lia@lib.example,"
          f"{START + timedelta(days=60)},,")


@pytest.fixture
def server() -> Iterator[RecordingSmtpServer]:
    with RecordingSmtpServer() as srv:
        yield srv


def _program(tmp_path: Path, server: RecordingSmtpServer, *, multiple: bool = False,
             rows: tuple[str, ...] = (FIRST,)) -> Program:
    program = make_program(tmp_path / "p", start=START, rows=list(rows), smtp_port=server.port)
    if multiple:
        text = program.config.read_text()
        program.config.write_text(text.replace("[program]\n",
                                               "[program]\nallow_multiple_mentors = true\n", 1))
    return program


def _roster(program: Program, *rows: str) -> Path:
    path = program.folder / "roster-2.csv"
    path.write_text(ROSTER_HEADER + "".join(r + "\n" for r in rows))
    return path


def _intro_to(server: RecordingSmtpServer, pair_id: str, to: str) -> EmailMessage:
    for received in server.messages:
        msg = received.message()
        if msg["X-Mailflow-Kind"] == "intro" and msg["X-Mailflow-Pair"] == pair_id \
                and to in str(msg["To"]):
            return msg
    raise AssertionError(f"no intro of {pair_id} to {to}")


def _reply(body: str, original: EmailMessage | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Zoë Ñúñez <zoe@lib.example>"
    msg["To"] = str(original["Reply-To"]) if original else "mentoring@lib.example"
    msg["Subject"] = "Re: " + str(original["Subject"]) if original else "checking in"
    msg["Message-ID"] = make_msgid(domain="client.example")
    if original is not None:
        msg["In-Reply-To"] = msg["References"] = str(original["Message-ID"])
    msg["Date"] = format_datetime(datetime(2027, 3, 7, 10, 0, tzinfo=UTC))
    msg.set_content(body)
    return bytes(msg)


def _handle(program: Program, raw: bytes) -> tuple[str, str]:
    app = program.app()
    now = program.clock.now()
    with app.repository() as repo:
        state = ProgramState.load(repo, app.settings.program_model(), now)
        inbound = Inbound(app.settings, repo, state, now)
        with repo.transaction():
            handled = inbound.handle(raw)
    return handled.folder, handled.reason


def _events(program: Program, kind: EventType) -> list[str]:
    with program.app().repository(readonly=True) as repo:
        return [e.pair_id for e in repo.events() if e.type == kind]


def test_a_mentee_in_two_active_pairs_is_refused(
        tmp_path: Path, server: RecordingSmtpServer) -> None:
    program = _program(tmp_path, server)
    with pytest.raises(RosterError) as refused:
        program.app().import_roster(_roster(program, FIRST, SECOND))
    (problem,) = refused.value.problems
    assert problem.startswith("roster-2.csv: line 3: mentee zoe@lib.example is already in "
                              "pair 'P1' (line 2); a mentee can be in one active pair only")
    assert "mailflow pair end P1" in problem and "allow_multiple_mentors" in problem
    with program.app().repository(readonly=True) as repo:
        assert sorted(repo.pairs()) == ["P1"]


def test_a_rematch_after_the_first_pair_ended(
        tmp_path: Path, server: RecordingSmtpServer) -> None:
    program = _program(tmp_path, server)
    program.at(START)
    program.send_due()
    program.at(START + timedelta(days=50))
    end_pair(program.app(), "P1", "no-fault end: schedules did not fit")
    report = program.app().import_roster(_roster(program, FIRST, SECOND))
    assert report.added == ["P2"] and report.unchanged == ["P1"]
    with program.app().repository(readonly=True) as repo:
        pairs = repo.pairs()
    assert pairs["P1"].state == PairState.ENDED and pairs["P2"].state == PairState.ACTIVE
    # the new pair is introduced on its own start, to the same mentee
    program.at(START + timedelta(days=60))
    program.send_due()
    intro = _intro_to(server, "P2", "zoe@lib.example")
    assert "Bo Mentor" in intro.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    # a reply with no thread goes to the active pair, not the ended one
    program.at(START + timedelta(days=62))
    assert _handle(program, _reply("MET yesterday")) == (PROCESSED, "")
    assert _events(program, EventType.MET) == ["P2"]
    # the file can also leave the ended pair out: it is reported missing, not deleted
    report = program.app().import_roster(_roster(program, SECOND))
    assert report.missing == ["P1"] and report.unchanged == ["P2"]


def test_several_mentors_the_thread_decides_and_no_thread_is_quarantined(
        tmp_path: Path, server: RecordingSmtpServer) -> None:
    program = _program(tmp_path, server, multiple=True)
    report = program.app().import_roster(_roster(program, FIRST, SECOND))
    assert report.added == ["P2"]
    program.at(START)
    program.send_due()
    program.at(START + timedelta(days=60))
    program.send_due()
    program.at(START + timedelta(days=62))
    second = _intro_to(server, "P2", "zoe@lib.example")
    first = _intro_to(server, "P1", "zoe@lib.example")
    assert _handle(program, _reply("MET yesterday", second)) == (PROCESSED, "")
    assert _handle(program, _reply("GOAL present at a conference", first)) == (PROCESSED, "")
    assert _events(program, EventType.MET) == ["P2"]
    assert _events(program, EventType.GOAL) == ["P1"]
    folder, reason = _handle(program, _reply("MET today"))
    assert folder == QUARANTINED
    assert reason == ("zoe@lib.example is in 2 active pairs (P1, P2) and the reply names no "
                      "email mailflow sent, so the pair is unknown")
    assert _events(program, EventType.MET) == ["P2"]  # nothing was guessed
    assert _events(program, EventType.QUARANTINED) == [""]
