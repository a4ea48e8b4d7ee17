"""A whole 9-month term, day by day, through send_due_once into a real SMTP server."""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from programs import Program, make_program
from smtp_server import RecordingSmtpServer

from mailflow.domain.model import Event, EventType, OutboxStatus

CHICAGO = ZoneInfo("America/Chicago")
ROWS = [
    # A: starts on the 31st, so its topic days are clamped to short months' ends
    "A,Ann Mentor,ann@lib.example,Zoë Ñúñez,zoe@lib.example,Lia One,l1@lib.example,2027-01-31,,",
    # B: starts with the program; its mentee lives in Auckland
    "B,Bob Mentor,bob@lib.example,Ben Mentee,ben@lib.example,Lia One,l1@lib.example,,,"
    "Pacific/Auckland",
    # C: starts late and never reports a meeting: nudged, then escalated
    "C,Cat Mentor,cat@lib.example,Cy Mentee,cy@lib.example,Lee Two,l2@lib.example,2027-02-15,,",
]
PROGRAM_START = date(2027, 1, 4)


def _sent_day(msg: EmailMessage, zone: ZoneInfo = CHICAGO) -> date:
    return parsedate_to_datetime(str(msg["Date"])).astimezone(zone).date()


def _add_met(program: Program, pair_id: str, day: date, who: str) -> None:
    app = program.app()
    with app.repository() as repo:
        moment = datetime.combine(day, datetime.min.time(), tzinfo=CHICAGO) + timedelta(hours=20)
        repo.add_event(f"met-{pair_id}-{day}", Event(moment, pair_id, who, "mentor",
                                                     EventType.MET, day, "", ""))


@pytest.fixture
def server() -> RecordingSmtpServer:
    with RecordingSmtpServer() as srv:
        yield srv


def _run_term(program: Program, server: RecordingSmtpServer) -> None:
    day = PROGRAM_START - timedelta(days=3)
    while day <= date(2027, 11, 20):
        program.at(day)
        program.send_due()
        if day.day in (3, 17):
            program.send_due()  # a second pass at the same moment must send nothing new
        if day.day == 1 and day.month > 1:  # A and B report a meeting every month
            _add_met(program, "A", day, "ann@lib.example")
            _add_met(program, "B", day, "bob@lib.example")
        day += timedelta(days=1)


def test_a_whole_term_delivers_each_email_once_on_its_day(
    tmp_path: Path, server: RecordingSmtpServer
) -> None:
    program = make_program(tmp_path / "p", start=PROGRAM_START, rows=ROWS,
                           smtp_port=server.port)
    _run_term(program, server)

    messages = [r.message() for r in server.messages]
    ids = [str(m["Message-ID"]) for m in messages]
    assert len(ids) == len(set(ids)), "a message was delivered twice"

    by: dict[tuple[str, str], list[EmailMessage]] = defaultdict(list)
    for m in messages:
        by[(str(m.get("X-Mailflow-Pair", "-")), str(m["X-Mailflow-Kind"]))].append(m)
    # feedback: the email, and a reminder 14 days later to whoever had not replied since
    # (Ann's MET on 1 November answered it; B's reminders fall on 18 October, before
    # Bob's next MET; C's would fall after the run ends)
    feedbacks = {"A": 3, "B": 4, "C": 2}
    for pair in ("A", "B", "C"):
        counts = {kind: len(by[(pair, kind)]) for kind in ("intro", "topic", "midpoint",
                                                           "closing", "feedback")}
        assert counts == {"intro": 2, "topic": 14, "midpoint": 2, "closing": 2,
                          "feedback": feedbacks[pair]}, pair
    assert {_sent_day(m) for m in by[("B", "midpoint")]} == {date(2027, 5, 11)}
    welcomes = Counter(str(m["To"]) for m in by[("-", "liaison_welcome")])
    assert sorted(welcomes.values()) == [1, 1] and len(welcomes) == 2

    # pair A started on Jan 31: topics on the last day of short months
    a_topic_days = sorted({_sent_day(m) for m in by[("A", "topic")]})
    assert a_topic_days == [date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30),
                            date(2027, 5, 31), date(2027, 6, 30), date(2027, 7, 31),
                            date(2027, 8, 31)]
    assert {_sent_day(m) for m in by[("A", "closing")]} == {date(2027, 9, 30)}
    assert sorted(_sent_day(m) for m in by[("A", "feedback")]) == [
        date(2027, 10, 31), date(2027, 10, 31), date(2027, 11, 14)]
    [reminder] = [m for m in by[("A", "feedback")] if _sent_day(m) == date(2027, 11, 14)]
    assert str(reminder["To"]) == "Zoë Ñúñez <zoe@lib.example>"
    assert str(reminder["Subject"]).startswith("A reminder: your feedback")
    assert {_sent_day(m) for m in by[("B", "intro")]} == {PROGRAM_START}
    # B's mentee's mail is due at 09:00 Auckland time: the afternoon before, in Chicago
    with program.app().repository(readonly=True) as repo:
        ben = repo.outbox_entry("B/intro/m1/ben@lib.example")
    assert ben is not None and ben.status == OutboxStatus.SENT
    assert ben.due_at.astimezone(ZoneInfo("Pacific/Auckland")) == datetime(
        2027, 1, 4, 9, 0, tzinfo=ZoneInfo("Pacific/Auckland"))
    assert ben.due_at.astimezone(CHICAGO).date() == date(2027, 1, 3)

    # A and B met every month: never nudged. C never did: one nudge each at day 42,
    # and one quiet escalation to its liaison at day 56.
    assert by[("A", "nudge")] == [] and by[("B", "nudge")] == []
    c_start = date(2027, 2, 15)
    assert sorted(str(m["To"]) for m in by[("C", "nudge")]) == [
        "Cat Mentor <cat@lib.example>", "Cy Mentee <cy@lib.example>"]
    assert {_sent_day(m) for m in by[("C", "nudge")]} == {c_start + timedelta(days=42)}
    escalations = sorted(by[("C", "escalation")], key=_sent_day)
    assert [str(m["To"]) for m in escalations] == ["Lee Two <l2@lib.example>"] * 2
    assert [_sent_day(m) for m in escalations] == [c_start + timedelta(days=21),
                                                   c_start + timedelta(days=56)]
    assert "No first contact yet" in str(escalations[0]["Subject"])
    # first contact: nobody in B or C had replied 14 days in (B's first MET came on
    # 1 February), so their mentors were reminded and their liaisons told 7 days later;
    # A's MET on 1 February came before its day 14
    assert by[("A", "first_contact")] == []
    assert [(str(m["To"]), _sent_day(m)) for m in by[("B", "first_contact")]] == [
        ("Bob Mentor <bob@lib.example>", PROGRAM_START + timedelta(days=14))]
    assert [_sent_day(m) for m in by[("C", "first_contact")]] == [c_start + timedelta(days=14)]
    assert [_sent_day(m) for m in by[("B", "escalation")]] == [
        PROGRAM_START + timedelta(days=21)]
    assert set(by) <= {(p, k) for p in "ABC" for k in
                       ("intro", "topic", "midpoint", "closing", "feedback", "nudge",
                        "escalation", "first_contact")} | {("-", "liaison_welcome")}

    for m in messages:
        assert m.get_content_type() == "multipart/alternative"
        assert m["Auto-Submitted"] == "auto-generated"
        assert m["X-Mailflow-Kind"]
        html = m.get_body(("html",))
        text = m.get_body(("plain",))
        assert html is not None and text is not None
        for part in (html.get_content(), text.get_content(), str(m["Subject"])):
            assert "{{" not in part and "{%" not in part and "None" not in part


def test_with_the_smtp_server_down_nothing_is_lost(
    tmp_path: Path, server: RecordingSmtpServer
) -> None:
    closed = RecordingSmtpServer().start()
    closed_port = closed.port
    closed.stop()  # nothing listens there any more
    program = make_program(tmp_path / "p", start=PROGRAM_START, rows=ROWS[:2],
                           smtp_port=closed_port)
    program.at(PROGRAM_START)
    report = program.send_due()
    assert report.connection_error and report.sent == []
    app = program.app()
    with app.repository(readonly=True) as repo:
        statuses = Counter(e.status for e in repo.outbox())
    # B's 2 intros and 1 liaison welcome are kept, and one alert for the coordinators
    assert statuses == {OutboxStatus.PENDING: 4}
    assert server.messages == []

    program.set_smtp("127.0.0.1", server.port)
    program.at(PROGRAM_START, hour=13)
    report = program.send_due()
    assert len(report.sent) == 4 and not report.connection_error
    kinds = Counter(str(r.message()["X-Mailflow-Kind"]) for r in server.messages)
    # the pending mail, the alert that sending failed, and one "recovered" alert
    assert kinds == {"intro": 2, "liaison_welcome": 1, "alert": 2}
    assert program.send_due().sent == []  # and nothing twice
    assert len(server.messages) == 5


def test_4xx_is_retried_later_and_5xx_fails_and_alerts_the_coordinators(
    tmp_path: Path, server: RecordingSmtpServer
) -> None:
    program = make_program(tmp_path / "p", start=PROGRAM_START, rows=ROWS[:2],
                           smtp_port=server.port)
    program.at(PROGRAM_START)
    server.fail_next(451, n=1)
    server.fail_next(550, n=1)
    report = program.send_due()
    assert len(report.deferred) == 1 and len(report.failed) == 1 and len(report.sent) == 1
    alerts = [r.message() for r in server.messages if r.message()["X-Mailflow-Kind"] == "alert"]
    assert len(alerts) == 1
    assert report.failed[0][0] in alerts[0].get_body(("plain",)).get_content()
    # the deferred one goes out on a later pass, after its backoff
    program.at(PROGRAM_START, hour=13)
    report = program.send_due()
    assert len(report.sent) == 1 and report.failed == []
    with program.app().repository(readonly=True) as repo:
        statuses = Counter(e.status for e in repo.outbox() if e.kind != "alert")
    assert statuses == {OutboxStatus.SENT: 2, OutboxStatus.FAILED: 1}


def test_a_pass_composed_ahead_in_a_worker_delivers_each_email_once(
    tmp_path: Path, server: RecordingSmtpServer, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Long passes compose in a worker process: here every pass is long (chunks of 1)."""
    from mailflow.services import dispatch, workers

    monkeypatch.setattr(workers, "MIN_FOR_WORKER", 1)
    monkeypatch.setattr(dispatch, "CHUNK", 1)
    caplog.set_level("INFO", logger="mailflow.workers")
    program = make_program(tmp_path / "p", start=PROGRAM_START, rows=ROWS,
                           smtp_port=server.port)
    program.at(PROGRAM_START)
    report = program.send_due()
    assert "worker process" in caplog.text
    assert report.held == [] and report.failed == [] and len(report.sent) == 4
    ids = [r.message()["Message-ID"] for r in server.messages]
    assert len(ids) == len(set(ids)) == 4
    kinds = Counter(str(r.message()["X-Mailflow-Kind"]) for r in server.messages)
    assert kinds == {"intro": 2, "liaison_welcome": 2}  # B starts now; A and C later
    for received in server.messages:
        body = received.message().get_body(("plain",))
        assert body is not None and "{{" not in body.get_content()
    assert program.send_due().sent == []  # and nothing twice
