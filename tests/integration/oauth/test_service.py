"""`mailflow run` on OAuth 2.0: tokens of a few seconds for several lifetimes without a
failed pass; a secret refused mid-run gives a clear error, one alert, and the service
goes on and recovers once the new secret is in place."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Iterator
from datetime import datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import pytest
from oauth_helpers import SECRET_ENV, START, Mailbox, custom_toml, oauth_program
from programs import Program
from smtp_server import RecordingSmtpServer
from test_inbound_replies import reply_to

from mailflow.app import App
from mailflow.errors import StoreError
from mailflow.services.service import Service

pytestmark = pytest.mark.timeout(90)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def errors(self, name: str = "mailflow") -> list[str]:
        return [r.getMessage() for r in self.records
                if r.levelno >= logging.ERROR and r.name.startswith(name)]


@pytest.fixture
def log_lines() -> Iterator[_Lines]:
    handler = _Lines()
    logger = logging.getLogger("mailflow")
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)


def _morning(program: Program) -> None:
    program.clock.set(datetime.combine(START, clock_time(12), tzinfo=program.zone))


def _answer_intros(smtp: RecordingSmtpServer, mailbox: Mailbox, stop: threading.Event) -> None:
    """Each second, a participant answers one intro with MET: every poll has work and
    sends an ack, so both servers see fresh sign-ins all along."""
    answered = 0
    while not stop.wait(1.0):
        intros = [m.message() for m in list(smtp.messages)
                  if m.message()["X-Mailflow-Kind"] == "intro"]
        if answered < len(intros):
            intro = intros[answered]
            sender = re.sub(r".*<|>.*", "", str(intro["To"]))
            mailbox.account.append([reply_to(intro, sender, "MET for coffee")])
            answered += 1


async def _health(app: App) -> dict[str, Any]:
    """The health record, read between the running service's passes (each holds the store)."""
    for _ in range(200):
        try:
            with app.repository(readonly=True) as repo:
                return dict(repo.meta("health"))
        except StoreError:
            await asyncio.sleep(0.025)
    raise AssertionError("the store stayed busy for 5 s")


async def _run(app: App, seconds: float) -> Service:
    service = Service(app, speed=600.0)
    task = asyncio.create_task(service.run())
    await asyncio.sleep(seconds)
    service.stopping.set()
    await asyncio.wait_for(task, 30)
    return service


async def test_service_runs_several_token_lifetimes_without_a_failed_pass(
        tmp_path: Path, mailbox: Mailbox, oauth_smtp: RecordingSmtpServer,
        log_lines: _Lines) -> None:
    lifetime = mailbox.client.lifetime = 3.0
    program = oauth_program(tmp_path / "p", mailbox, oauth_smtp,
                            custom_toml(mailbox.server, mailbox.client, mechanism="OAUTHBEARER"),
                            poll_seconds=0.5)
    _morning(program)
    app = program.app()
    stop = threading.Event()
    helper = threading.Thread(target=_answer_intros, args=(oauth_smtp, mailbox, stop))
    helper.start()
    try:
        await _run(app, 4 * lifetime)
    finally:
        stop.set()
        helper.join()
    tokens = app.token_source("imap")
    assert tokens is not None and tokens is app.token_source("smtp")
    assert tokens.refreshes >= 4, tokens.refreshes  # a new token for each lifetime
    # renewed before the servers saw one expire (a fifth of a 3 s life is 0.6 s: a
    # sign-in slowed past that by a loaded machine may meet one refusal, and recover)
    assert tokens.refusals <= 1, tokens.refusals
    assert log_lines.errors() == []
    assert all(ok for _, ok in oauth_smtp.logins) and len(oauth_smtp.logins) >= 3
    kinds = [m.message()["X-Mailflow-Kind"] for m in oauth_smtp.messages]
    assert kinds.count("intro") == 4 and kinds.count("ack") >= 3, kinds
    health = await _health(app)
    assert health.get("last_error") is None, health


async def test_a_refused_secret_mid_run_alerts_once_and_recovers(
        tmp_path: Path, mailbox: Mailbox, smtp_plain: RecordingSmtpServer,
        log_lines: _Lines, monkeypatch: pytest.MonkeyPatch) -> None:
    program = oauth_program(tmp_path / "p", mailbox, smtp_plain,
                            custom_toml(mailbox.server, mailbox.client, provider="microsoft",
                                        tenant="contoso"),
                            smtp_oauth=False, poll_seconds=0.3)
    _morning(program)
    app = program.app()
    service = Service(app, speed=600.0)
    task = asyncio.create_task(service.run())
    try:
        await asyncio.sleep(1.0)
        # the secret expires and the server forgets every token it gave
        new_secret = mailbox.server.set_secret(mailbox.client.client_id)
        mailbox.server.revoke(mailbox.client.client_id)
        await asyncio.sleep(2.5)
        assert not task.done()  # the service goes on
        health = await _health(app)
        assert "create a new one in the Entra admin center" in health["last_error"]
        assert SECRET_ENV in health["last_error"]
        alerts = [m.message() for m in smtp_plain.messages
                  if m.message()["X-Mailflow-Kind"] == "alert"]
        assert len(alerts) == 1, [a["Subject"] for a in alerts]  # one, though polls failed
        assert "Entra admin center" in alerts[0].get_body(("plain",)).get_content()
        oauth_errors = log_lines.errors("mailflow.oauth")
        assert len(oauth_errors) == 1 and "invalid_client" in oauth_errors[0]
        sends_before = sum("send pass done" in r.getMessage() for r in log_lines.records)
        # the new secret is put in place: the next poll signs in again
        monkeypatch.setenv(SECRET_ENV, new_secret)
        await asyncio.sleep(1.5)
    finally:
        service.stopping.set()
        await asyncio.wait_for(task, 30)
    assert sum("send pass done" in r.getMessage() for r in log_lines.records) > sends_before
    health = await _health(app)
    assert health.get("oauth_failing_since") is None and health.get("last_poll")
    alerts = [m.message() for m in smtp_plain.messages
              if m.message()["X-Mailflow-Kind"] == "alert"]
    assert len(alerts) == 2  # the outage and its end
