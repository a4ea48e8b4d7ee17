"""A real program folder wired to in-process test servers, and helpers to drive it."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from mailflow.app import App, scaffold
from mailflow.clock import FixedClock
from mailflow.services.dispatch import SendReport
from mailflow.services.poller import PollReport

ROSTER_HEADER = (
    "pair_id,mentor_name,mentor_email,mentee_name,mentee_email,liaison_name,liaison_email,"
    "start,mentor_timezone,mentee_timezone\n"
)


@dataclass
class Program:
    folder: Path
    clock: FixedClock
    zone: ZoneInfo

    @property
    def config(self) -> Path:
        return self.folder / "config.toml"

    def app(self) -> App:
        return App.load(self.config, self.clock)

    def at(self, day: date, hour: int = 12) -> datetime:
        moment = datetime.combine(day, time(hour), tzinfo=self.zone)
        self.clock.set(moment)
        return moment

    def send_due(self, **kwargs: bool) -> SendReport:
        return asyncio.run(self.app().send_due(**kwargs))

    def poll(self, **kwargs: bool) -> tuple[PollReport, SendReport]:
        return asyncio.run(self.app().poll(**kwargs))

    def set_smtp(self, host: str, port: int) -> None:
        text = self.config.read_text()
        text = re.sub(r'(\[smtp\][^\[]*?)host = "[^"]*"', rf'\1host = "{host}"', text, flags=re.S)
        text = re.sub(r"(\[smtp\][^\[]*?)port = \d+", rf"\1port = {port}", text, flags=re.S)
        self.config.write_text(text)


CONFIG = """
[program]
name = "Test Mentoring Program"
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
timeout_seconds = 5

{imap}

[[topics]]
month = 2
title = "Professional development"
body = "Talk about **conferences** you might attend."
"""


NO_IMAP = """[imap]
host = "127.0.0.1"
port = 1
security = "none"
"""


def imap_toml(host: str, port: int, username: str, password_env: str, ca_file: Path,
              poll_seconds: float = 60) -> str:
    return f"""[imap]
poll_seconds = {poll_seconds}
host = "{host}"
port = {port}
security = "tls"
username = "{username}"
password_env = "{password_env}"
ca_file = "{ca_file}"
timeout_seconds = 10
"""


def make_program(folder: Path, *, start: date, rows: list[str], smtp_port: int,
                 imap: str = NO_IMAP, months: int = 9,
                 timezone: str = "America/Chicago") -> Program:
    """A program folder (scaffolded templates, a test config) with `rows` imported."""
    scaffold(folder)
    (folder / "config.toml").write_text(CONFIG.format(
        start=start.isoformat(), months=months, timezone=timezone, smtp_port=smtp_port,
        imap=imap))
    (folder / "roster.csv").write_text(ROSTER_HEADER + "".join(r + "\n" for r in rows))
    zone = ZoneInfo(timezone)
    program = Program(folder, FixedClock(datetime.combine(start, time(0), tzinfo=zone)), zone)
    program.app().import_roster(folder / "roster.csv")
    return program


def program_polling(folder: Path, account: Any, *, start: date, rows: list[str], smtp_port: int,
                    poll_seconds: float = 60, extra_imap: str = "") -> Program:
    """`make_program` whose [imap] signs in to `account` (a dovecot.ImapAccount) on the test
    Dovecot; the account's password is put in the environment."""
    from dovecot import IMAP_PASSWORD_ENV

    account.settings()
    toml = imap_toml(account.host, account.server.imaps_port, account.username,
                     IMAP_PASSWORD_ENV, account.ca_file, poll_seconds) + extra_imap
    return make_program(folder, start=start, rows=rows, smtp_port=smtp_port, imap=toml)
