"""Dispatcher.stream: mail put during a pass (a poll's acks) goes out while the pass goes
on, each email once, and what cannot go stays pending. Real store, real SMTP server."""

from __future__ import annotations

import asyncio
import sys
from datetime import date
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from programs import Program, make_program
from smtp_server import RecordingSmtpServer, free_port

from mailflow.domain.model import OutboxEntry, OutboxStatus
from mailflow.repository import Repository
from mailflow.services.dispatch import Dispatcher, SendReport
from mailflow.services.state import ProgramState

START = date(2027, 1, 4)
ROWS = [f"P{i},Men Tor{i},mentor{i}@lib.example,Men Tee{i},mentee{i}@lib.example,"
        f"Lia Son,liaison@lib.example,,," for i in range(4)]


@pytest.fixture
def server() -> RecordingSmtpServer:
    with RecordingSmtpServer() as srv:
        yield srv


def _queue_first_day(program: Program) -> None:
    """Record the first day's emails as pending, as a pass's first step does."""
    now = program.at(START)
    app = program.app()
    with app.repository() as repo:
        dispatcher = app.dispatcher()
        state = ProgramState.load(repo, dispatcher.program, now)
        dispatcher.record_due(repo, state, dispatcher.due_now(repo, state, now), SendReport())


def _pending(dispatcher: Dispatcher, repo: Repository,
             program: Program) -> tuple[ProgramState, list[OutboxEntry]]:
    now = program.clock.now()
    state = ProgramState.load(repo, dispatcher.program, now)
    return state, dispatcher.sendable(state, now)


async def _until(condition: object, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


def test_what_is_put_is_sent_while_the_caller_goes_on(
    tmp_path: Path, server: RecordingSmtpServer
) -> None:
    program = make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=server.port)
    _queue_first_day(program)
    app = program.app()
    report = SendReport()
    with app.repository() as repo:
        dispatcher = app.dispatcher()
        state, entries = _pending(dispatcher, repo, program)
        assert len(entries) == 9  # 8 intros and the liaison's welcome

        async def scenario() -> None:
            async with dispatcher.stream(repo, program.clock.now(), report) as outbox:
                outbox.put(state, entries[:3])
                # delivered while the stream is still open, as a poll reads on
                await _until(lambda: len(server.messages) == 3)
                outbox.put(state, entries[3:])
            assert len(server.messages) == 9  # leaving waits for everything put

        asyncio.run(scenario())
    assert sorted(report.sent) == sorted(e.key for e in entries)
    ids = [r.message()["Message-ID"] for r in server.messages]
    assert len(set(ids)) == 9
    with program.app().repository(readonly=True) as repo:
        assert {e.status for e in repo.outbox()} == {OutboxStatus.SENT}


def test_with_the_server_down_what_is_put_stays_pending(tmp_path: Path) -> None:
    program = make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=free_port())
    _queue_first_day(program)
    app = program.app()
    report = SendReport()
    with app.repository() as repo:
        dispatcher = app.dispatcher()
        state, entries = _pending(dispatcher, repo, program)

        async def scenario() -> None:
            async with dispatcher.stream(repo, program.clock.now(), report) as outbox:
                outbox.put(state, entries[:4])
                await _until(lambda: bool(report.connection_error))
                outbox.put(state, entries[4:])  # ignored: the next pass sends them

        asyncio.run(scenario())
    assert report.connection_error and report.sent == []
    with program.app().repository(readonly=True) as repo:
        assert {e.status for e in repo.outbox()} == {OutboxStatus.PENDING}


def test_a_failing_caller_stops_the_stream_and_nothing_is_lost(
    tmp_path: Path, server: RecordingSmtpServer
) -> None:
    program = make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=server.port)
    _queue_first_day(program)
    app = program.app()
    report = SendReport()
    with app.repository() as repo:
        dispatcher = app.dispatcher()
        state, entries = _pending(dispatcher, repo, program)

        server.delay = 0.05  # so that some emails are in flight when the caller fails

        async def scenario() -> None:
            async with dispatcher.stream(repo, program.clock.now(), report) as outbox:
                outbox.put(state, entries)
                await _until(lambda: len(server.messages) >= 1)
                raise RuntimeError("the poll failed")

        with pytest.raises(RuntimeError, match="the poll failed"):
            asyncio.run(scenario())
    # those in flight were finished and recorded; the rest go out on the next pass
    assert 1 <= len(report.sent) < 9
    server.delay = 0.0
    report2 = program.send_due()
    assert sorted(report.sent + report2.sent) == sorted(e.key for e in entries)
    ids = [r.message()["Message-ID"] for r in server.messages]
    assert len(ids) == len(set(ids)) == 9
