"""Dispatcher.stream: mail put during a pass (a poll's acks) goes out while the pass goes
on, each email once, and what cannot go stays pending. Real store, real SMTP server."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from programs import Program, make_program
from smtp_server import RecordingSmtpServer, free_port

from mailflow.domain.model import OutboxEntry, OutboxStatus
from mailflow.repository import Repository
from mailflow.services.dispatch import Dispatcher, OutboxStream, SendReport
from mailflow.services.state import ProgramState

START = date(2027, 1, 4)
ROWS = [f"P{i},Men Tor{i},mentor{i}@lib.example,Men Tee{i},mentee{i}@lib.example,"
        f"Lia Son,liaison@lib.example,,," for i in range(4)]


@pytest.fixture
def server() -> RecordingSmtpServer:
    with RecordingSmtpServer() as srv:
        yield srv


@dataclass
class FirstDay:
    """The first day's emails recorded as pending, and the store open to send them."""

    program: Program
    repo: Repository
    dispatcher: Dispatcher
    state: ProgramState
    entries: list[OutboxEntry]
    report: SendReport

    def stream(self) -> OutboxStream:
        return self.dispatcher.stream(self.repo, self.program.clock.now(), self.report)


@contextmanager
def _first_day(tmp_path: Path, smtp_port: int) -> Iterator[FirstDay]:
    program = make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=smtp_port)
    now = program.at(START)
    app = program.app()
    with app.repository() as repo:
        dispatcher = app.dispatcher()
        state = ProgramState.load(repo, dispatcher.program, now)
        dispatcher.record_due(repo, state, dispatcher.due_now(repo, state, now), SendReport())
        state = ProgramState.load(repo, dispatcher.program, now)
        yield FirstDay(program, repo, dispatcher, state, dispatcher.sendable(state, now),
                       SendReport())


async def _until(condition: object, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


def test_what_is_put_is_sent_while_the_caller_goes_on(
    tmp_path: Path, server: RecordingSmtpServer
) -> None:
    with _first_day(tmp_path, server.port) as day:
        assert len(day.entries) == 9  # 8 intros and the liaison's welcome

        async def scenario() -> None:
            async with day.stream() as outbox:
                outbox.put(day.state, day.entries[:3])
                # delivered while the stream is still open, as a poll reads on
                await _until(lambda: len(server.messages) == 3)
                outbox.put(day.state, day.entries[3:])
            assert len(server.messages) == 9  # leaving waits for everything put

        asyncio.run(scenario())
    assert sorted(day.report.sent) == sorted(e.key for e in day.entries)
    ids = [r.message()["Message-ID"] for r in server.messages]
    assert len(set(ids)) == 9
    with day.program.app().repository(readonly=True) as repo:
        assert {e.status for e in repo.outbox()} == {OutboxStatus.SENT}


def test_with_the_server_down_what_is_put_stays_pending(tmp_path: Path) -> None:
    with _first_day(tmp_path, free_port()) as day:

        async def scenario() -> None:
            async with day.stream() as outbox:
                outbox.put(day.state, day.entries[:4])
                await _until(lambda: bool(day.report.connection_error))
                outbox.put(day.state, day.entries[4:])  # ignored: the next pass sends them

        asyncio.run(scenario())
    assert day.report.connection_error and day.report.sent == []
    with day.program.app().repository(readonly=True) as repo:
        assert {e.status for e in repo.outbox()} == {OutboxStatus.PENDING}


def test_a_failing_caller_stops_the_stream_and_nothing_is_lost(
    tmp_path: Path, server: RecordingSmtpServer
) -> None:
    with _first_day(tmp_path, server.port) as day:
        server.delay = 0.05  # so that some emails are in flight when the caller fails

        async def scenario() -> None:
            async with day.stream() as outbox:
                outbox.put(day.state, day.entries)
                await _until(lambda: len(server.messages) >= 1)
                raise RuntimeError("the poll failed")

        with pytest.raises(RuntimeError, match="the poll failed"):
            asyncio.run(scenario())
    # those in flight were finished and recorded; the rest go out on the next pass
    assert 1 <= len(day.report.sent) < 9
    server.delay = 0.0
    again = day.program.send_due()
    assert sorted(day.report.sent + again.sent) == sorted(e.key for e in day.entries)
    ids = [r.message()["Message-ID"] for r in server.messages]
    assert len(ids) == len(set(ids)) == 9
