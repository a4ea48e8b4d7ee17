"""Program folders for the benchmarks: N pairs, wired to the bench's servers.

`make_program` scaffolds a folder (default templates, the example config's
real topics), writes a config pointing at smtp-sink and Dovecot, and imports
an N-pair roster through mailflow's own importer. `add_history` then gives
the store a year of a 12-month program, made by the planner itself: every
email it planned, month by month, recorded as sent, a MET check-in per pair
and month with its ack, and the processed record of each reply.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from mailflow.app import App, scaffold
from mailflow.clock import FixedClock
from mailflow.domain.calendar import plan
from mailflow.domain.effects import short_hash
from mailflow.domain.history import build_history
from mailflow.domain.keys import message_id, outbox_key
from mailflow.domain.model import Event, EventType, Kind, OutboxEntry, OutboxStatus
from mailflow.domain.schedule import month_start
from mailflow.repository import Repository

TIMEZONE = "America/Chicago"
ZONE = ZoneInfo(TIMEZONE)
PASSWORD_ENV = "MAILFLOW_BENCH_IMAP_PASSWORD"
DOMAIN = "lib.example"
PAIRS_PER_LIAISON = 25
ROSTER_HEADER = ("pair_id,mentor_name,mentor_email,mentee_name,mentee_email,liaison_name,"
                 "liaison_email\n")

HEADER = """\
[program]
name = "Bench Mentoring Program"
start = {start}
months = {months}
timezone = "{timezone}"
send_time = "09:00"
coordinators = ["committee@lib.example"]

[mail]
from = "Mentoring Committee <mentoring@lib.example>"
reply_to = "mentoring@lib.example"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
timeout_seconds = 60

[imap]
host = "127.0.0.1"
port = {imap_port}
security = "tls"
username = "{imap_user}"
password_env = "{password_env}"
ca_file = "{ca_file}"
timeout_seconds = 120

"""


@dataclass(frozen=True)
class Imap:
    port: int = 1
    user: str = "nobody"
    ca_file: str = ""


def person(role: str, i: int) -> tuple[str, str]:
    """(name, email) of the i-th mentor/mentee; every 7th name is not ASCII."""
    first = "Zoë Ñúñez" if i % 7 == 3 else "Alex"
    return f"{first} {role.title()} {i}", f"{role}{i}@{DOMAIN}"


def roster_rows(pairs: int) -> list[str]:
    rows = []
    for i in range(pairs):
        mentor, mentor_email = person("mentor", i)
        mentee, mentee_email = person("mentee", i)
        li = i // PAIRS_PER_LIAISON
        rows.append(f"P{i:05d},{mentor},{mentor_email},{mentee},{mentee_email},"
                    f"Liaison {li},liaison{li}@{DOMAIN}")
    return rows


def make_program(folder: Path, pairs: int, *, start: date, smtp_port: int = 1,
                 imap: Imap = Imap(), months: int = 9) -> Path:
    """A program folder with `pairs` pairs imported; returns its config path."""
    scaffold(folder)
    config = folder / "config.toml"
    example = config.read_text()
    topics = example[example.index("\n[[topics]]") + 1:]
    config.write_text(HEADER.format(
        start=start.isoformat(), months=months, timezone=TIMEZONE, smtp_port=smtp_port,
        imap_port=imap.port, imap_user=imap.user, password_env=PASSWORD_ENV,
        ca_file=imap.ca_file) + topics)
    roster = folder / "roster.csv"
    roster.write_text(ROSTER_HEADER + "".join(r + "\n" for r in roster_rows(pairs)))
    app(config, start).import_roster(roster)
    return config


def at_nine(day: date) -> datetime:
    return datetime.combine(day, time(9, 30), tzinfo=ZONE)


def app(config: Path, day: date | datetime) -> App:
    moment = day if isinstance(day, datetime) else at_nine(day)
    return App.load(config, FixedClock(moment))


def add_history(config: Path, start: date, months: int) -> datetime:
    """Months 1..months-1 of the program, as mailflow would have stored them.

    Returns the moment of the planner pass to measure: the start of the last
    month, when every pair's `closing` falls due.
    """
    application = app(config, start)
    program = application.settings.program_model()
    with application.repository() as repo:
        pairs = [r.pair for r in repo.pairs().values()]
        events: dict[str, list[Event]] = {p.pair_id: [] for p in pairs}
        keys: set[str] = set()
        with repo.transaction():
            for month in range(1, months):
                now = at_nine(month_start(start, month))
                histories = {pid: build_history(evs, timezone=TIMEZONE)
                             for pid, evs in events.items()}
                for planned in plan(program, pairs, histories, keys, now):
                    entry = planned.to_outbox_entry(DOMAIN)
                    _sent(repo, keys, entry, entry.due_at)
                for i, pair in enumerate(pairs):
                    _check_in(repo, keys, events[pair.pair_id], pair.participants[i % 2],
                              pair.pair_id, now + timedelta(days=3))
        repo.store.compact()  # type: ignore[attr-defined]
    return at_nine(month_start(start, months))


def _sent(repo: Repository, keys: set[str], entry: OutboxEntry, at: datetime) -> None:
    repo.put_outbox(replace(entry, status=OutboxStatus.SENT, sent_at=at, attempts=1))
    keys.add(entry.key)


def _check_in(repo: Repository, keys: set[str], events: list[Event], who: object,
              pair_id: str, at: datetime) -> None:
    email = who.email  # type: ignore[attr-defined]
    role = str(who.role)  # type: ignore[attr-defined]
    msg_id = f"<{pair_id}.{at:%Y%m%d}@client.example>"
    event = Event(at, pair_id, email, role, EventType.MET, at.date() - timedelta(days=1),
                  "We met for coffee and talked about the topic.", msg_id)
    repo.add_event(f"{msg_id}#met#{len(events)}", event)
    events.append(event)
    repo.mark_processed(msg_id, "processed", at, outcome_kind="reply", **{
        "from": email, "subject": "Re: this month's topic", "reason": "", "kind": "human"})
    period = short_hash(msg_id)
    key = outbox_key(pair_id, str(Kind.ACK), period, email)
    ack = OutboxEntry(key, pair_id, email, role, Kind.ACK, period, at, message_id(key, DOMAIN),
                      context={"recorded": ["MET"], "ignored": [], "in_reply_to": msg_id})
    _sent(repo, keys, ack, at)
