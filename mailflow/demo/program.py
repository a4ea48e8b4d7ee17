"""`mailflow demo`: a whole mentoring term, end to end, on mail servers in this process.

    run_demo(Path("mailflow-demo"), pairs=4) -> DemoSummary

1. Starts an SMTP server (aiosmtpd) that files every delivered message as
   ``mailboxes/<address>/NNN-<kind>.eml``, and an IMAP server (pymap, in-memory)
   holding the committee's inbox, both on 127.0.0.1 ports the OS picks.
2. Scaffolds a program folder pointing at them and imports a roster (``demo_people``).
3. Runs nine months on a FixedClock, day by day, through the very passes
   `mailflow run` makes: the send pass at the send time, the digest pass at the digest
   time, and a poll whenever the simulated people (``demo_script``) have written;
   their replies are APPENDed over IMAP, threaded and quoted as mail programs do.
4. Counts everything from the store, checks it against the mailboxes and the IMAP
   folders (``demo_summary``), and writes the committee report if one can be built.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

from mailflow.app import App, scaffold
from mailflow.clock import FixedClock
from mailflow.demo.people import COMMITTEE, Cast, PairCast, make_cast
from mailflow.demo.script import Participants
from mailflow.demo.servers import DemoImapServer, MailCatcher
from mailflow.demo.summary import DemoSummary, collect
from mailflow.domain.digests import latest_digest_at
from mailflow.domain.schedule import add_months, month_start, term_end
from mailflow.errors import MailflowError
from mailflow.services.announce import announce
from mailflow.services.pairs import end_pair
from mailflow.services.state import ProgramState

log = logging.getLogger("mailflow.demo")

MARKER = ".mailflow-demo"
PASSWORD_ENV = "MAILFLOW_DEMO_IMAP_PASSWORD"
TIMEZONE = "America/Chicago"
MONTHS = 9
SEND_HOUR, POLL_HOURS = 9, (12, 21)
DAYS_AFTER_TERM = 8  # feedback replies and a letter request come in after the term
REMATCH_AFTER = timedelta(days=7)  # the committee finds an ended pair's mentee a new mentor
ANNOUNCE_MONTH = 5  # the committee invites everyone to a mid-year get-together
ANNOUNCEMENT = """Subject: You are invited: the {{ program.name }} mid-year get-together

Dear {{ recipient.first_name }},

We are halfway through the program, and the committee would like to thank every mentor, \
mentee and liaison for the time they give. Join us for an informal online get-together \
on the last Thursday of this month, 12:00 to 13:00: a short welcome, then small groups to \
swap what has worked in your conversations so far.

{% if pair %}Bring a question you and {{ partner.first_name }} have been working on, or \
simply come to meet the other pairs.{% else %}Liaisons: a good moment to meet the pairs \
you look after.{% endif %}

There is nothing to reply to this email; the link will follow a week before.

The mentoring committee
"""
MIN_PAIRS, MAX_PAIRS = 4, 40


def run_demo(directory: Path, pairs: int = 4, *, today: date | None = None) -> DemoSummary:
    """Run a whole demo term in ``directory`` (replaced if it holds a previous demo)."""
    if not MIN_PAIRS <= pairs <= MAX_PAIRS:
        raise MailflowError(f"--pairs must be between {MIN_PAIRS} and {MAX_PAIRS}, got {pairs}")
    started = time.monotonic()
    prepare_folder(directory)
    start = demo_start(today or date.today())
    summary = DemoSummary(directory, pairs, (start, term_end(start, MONTHS)))
    cast = make_cast(pairs)
    password = secrets.token_urlsafe(16)
    saved_password = os.environ.get(PASSWORD_ENV)
    os.environ[PASSWORD_ENV] = password
    try:
        app, clock = _run_term(directory, cast, start, summary, password)
    finally:
        if saved_password is None:
            os.environ.pop(PASSWORD_ENV, None)
        else:
            os.environ[PASSWORD_ENV] = saved_password
    summary.simulated_until = clock.now()
    with app.repository(readonly=True) as repo:
        collect(summary, repo)
        _write_report(summary, app, repo, clock.now())
    summary.elapsed_seconds = time.monotonic() - started
    return summary


def _run_term(directory: Path, cast: Cast, start: date, summary: DemoSummary,
              password: str) -> tuple[App, FixedClock]:
    with _logging_to(directory / "demo.log"), \
            MailCatcher(directory / "mailboxes") as smtp, \
            DemoImapServer(COMMITTEE, password) as imap:
        write_program(directory, cast, start, smtp.port, imap.port)
        clock = FixedClock(_at(start, 0))
        app = App.load(directory / "config.toml", clock)
        app.import_roster(directory / "roster.csv")
        term = _Term(app, clock, smtp, imap, Participants(cast, ZoneInfo(TIMEZONE), COMMITTEE,
                                                          start), directory)
        asyncio.run(term.run(start, summary.term[1] + timedelta(DAYS_AFTER_TERM)))
        summary.written = term.written
        summary.imap_folders = imap.count(("INBOX", "Processed", "Quarantine"))
    return app, clock


def demo_start(today: date) -> date:
    """The first of the month ten months ago: the term (and a week after it) is over."""
    return add_months(date(today.year, today.month, 1), -10)


def prepare_folder(directory: Path) -> None:
    if directory.exists():
        if (directory / MARKER).exists():
            shutil.rmtree(directory)
        elif not directory.is_dir() or any(directory.iterdir()):
            raise MailflowError(f"{directory} exists and is not a mailflow demo folder; "
                                "choose another --dir (a previous demo folder is replaced)")
    scaffold(directory)
    (directory / MARKER).write_text("A folder made by `mailflow demo`; running the demo "
                                    "again replaces it.\n", encoding="utf-8")


# --- the program folder ------------------------------------------------------------------


def _tables(start: date, smtp_port: int, imap_port: int) -> dict[str, str]:
    return {
        "program": f'''[program]
name = "Riverside Libraries Mentoring Program {start.year}"
start = {start.isoformat()}
months = {MONTHS}
timezone = "{TIMEZONE}"
send_time = "{SEND_HOUR:02d}:00"
coordinators = ["coordinator@riverside-libraries.example"]
date_order = "mdy"
''',
        "mail": f'''[mail]
from = "Mentoring Committee <{COMMITTEE}>"
reply_to = "{COMMITTEE}"
''',
        "smtp": f'''[smtp]
# The demo's own SMTP server (aiosmtpd), alive only while `mailflow demo` runs. Plain SMTP
# (security = "none") is acceptable here only because it listens on the loopback interface.
host = "127.0.0.1"
port = {smtp_port}
security = "none"
timeout_seconds = 10
max_connections = 2
''',
        "imap": f'''[imap]
# The demo's own IMAP server (pymap, in memory), alive only while `mailflow demo` runs.
# Plain IMAP (security = "none") is acceptable here only because it is on loopback.
host = "127.0.0.1"
port = {imap_port}
security = "none"
username = "{COMMITTEE}"
password_env = "{PASSWORD_ENV}"
timeout_seconds = 10
''',
    }


_HEADER = re.compile(r"^\[\[?([a-z_]+)\]\]?\s*$", re.M)


def replace_tables(text: str, tables: dict[str, str]) -> str:
    """Swap whole top-level tables of a TOML file (header to the next header)."""
    parts, last, name = [], 0, ""
    for match in _HEADER.finditer(text):
        chunk = text[last:match.start()]
        parts.append(tables[name] + "\n" if name in tables else chunk)
        last, name = match.start(), match.group(1)
    parts.append(tables[name] if name in tables else text[last:])
    return "".join(parts)


def write_program(directory: Path, cast: Cast, start: date, smtp_port: int,
                  imap_port: int) -> None:
    config = directory / "config.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(replace_tables(text, _tables(start, smtp_port, imap_port)),
                      encoding="utf-8")
    (directory / "roster.csv").write_text(cast.roster_csv(), encoding="utf-8")


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, clock_time(hour), tzinfo=ZoneInfo(TIMEZONE))


# --- the term ------------------------------------------------------------------------------


class _Term:
    def __init__(self, app: App, clock: FixedClock, smtp: MailCatcher, imap: DemoImapServer,
                 people: Participants, directory: Path) -> None:
        self.app, self.clock, self.smtp, self.imap, self.people = app, clock, smtp, imap, people
        self.directory = directory
        self.replies = directory / "replies"
        self.written = 0
        self.rematches: list[tuple[PairCast, date]] = []

    async def run(self, first: date, last: date) -> None:
        self.replies.mkdir(exist_ok=True)
        day = first
        program = self.app.settings.program_model()
        while day <= last:
            # the digest pass at its scheduled time (as `mailflow run` would reach it), then
            # the send pass at the program's send time
            digest = latest_digest_at(program, _at(day, 23) + timedelta(minutes=59))
            passes = [(_at(day, SEND_HOUR), False)]
            if digest.date() == day:
                passes.append((digest, True))
            for moment, digests in sorted(passes):
                await self._send(moment, digests=digests)
            if day == month_start(first, ANNOUNCE_MONTH):
                await self._announce(day)
            for hour in POLL_HOURS:
                await self._poll(day, hour)
            self._coordinate(day)
            day += timedelta(days=1)

    async def _announce(self, day: date) -> None:
        """The coordinator's one-off email to everyone (`mailflow announce --to all`)."""
        self.clock.set(_at(day, SEND_HOUR + 1))
        report = await announce(self.app, ANNOUNCEMENT, "all", name="midyear-gathering.md")
        sent = report.sent
        if sent.connection_error or sent.failed or sent.held:
            raise MailflowError(f"the announcement on {day} did not go through: "
                                f"{sent.connection_error or sent.failed + sent.held}")
        self.people.read(self.smtp.take_new())

    def _coordinate(self, day: date) -> None:
        """What the coordinator does by hand at the end of the day: end the matches a
        liaison asked to end (`mailflow pair end`), and a week later import the roster
        with the mentee's new pair (`mailflow roster import`: a rematch)."""
        for pair, when in list(self.people.ended):
            if when <= day:
                self.people.ended.remove((pair, when))
                self.clock.set(_at(day, 17))
                end_pair(self.app, pair.pair_id, "the mentor left; the liaison asked to end "
                         "the match")
                self.rematches.append((pair, day + REMATCH_AFTER))
        for pair, when in list(self.rematches):
            if when <= day:
                self.rematches.remove((pair, when))
                self.clock.set(_at(day, 17))
                cast, _ = self.people.cast.rematch(pair, day + timedelta(days=1))
                roster = self.directory / "roster.csv"
                roster.write_text(cast.roster_csv(), encoding="utf-8")
                self.app.import_roster(roster)
                self.people.recast(cast)

    async def _send(self, moment: datetime, *, digests: bool) -> None:
        self.clock.set(moment)
        report = await self.app.send_due(digests=digests)
        if report.connection_error or report.failed or report.held or report.deferred:
            raise MailflowError(f"the send pass at {self.clock.now()} did not go through: "
                                f"{report.connection_error or report.failed + report.held}")
        self.people.read(self.smtp.take_new())

    async def _poll(self, day: date, hour: int) -> None:
        self.clock.set(_at(day, hour))
        batch = self.people.due(self.clock.now())
        if not batch:
            return
        for item in batch:
            self.written += 1
            (self.replies / f"{self.written:03d}-{item.label}.eml").write_bytes(item.raw)
        await asyncio.to_thread(self.imap.append, [item.raw for item in batch])
        report, sent = await self.app.poll()
        error = report.connection_error or sent.connection_error
        if error or sent.failed:
            raise MailflowError(f"the poll at {self.clock.now()} did not go through: "
                                f"{error or sent.failed}")
        self.people.read(self.smtp.take_new())


def _write_report(summary: DemoSummary, app: App, repo: object, now: datetime) -> None:
    try:
        module = importlib.import_module("mailflow.report.page")
    except ImportError as exc:
        summary.report_note = f"not written: the report module is not available ({exc})"
        return
    build = getattr(module, "build_report", None)
    if build is None:
        summary.report_note = "not written: this version has no mailflow.report.build_report"
        return
    from mailflow.repository import Repository

    assert isinstance(repo, Repository)
    state = ProgramState.load(repo, app.settings.program_model(), now)
    try:
        html = str(build(state, generated_at=now))
    except Exception as exc:  # the demo's own story still stands; say why there is no report
        log.exception("the report could not be built")
        summary.report_note = f"not written: {type(exc).__name__}: {exc}"
        return
    path = summary.directory / "report.html"
    path.write_text(html, encoding="utf-8")
    summary.report = path


@contextmanager
def _logging_to(path: Path) -> Iterator[None]:
    """Send mailflow's log lines (INFO and up) to a file while the demo runs."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("mailflow")
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
