"""Repairs from the console (SPEC 10): a failed email sent again; a quarantined reply accepted.

The reply is quarantined by a real poll of the test Dovecot, accepted in the browser's
form over HTTP, and handled as the person's reply, as `mailflow quarantine accept` does.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import httpx
import pytest
from dovecot import IMAP_PASSWORD_ENV, ImapAccount
from programs import Program, imap_toml, make_program
from smtp_server import RecordingSmtpServer
from webconsole import (
    COORDINATOR,
    LIAISON_A,
    ROWS,
    START,
    Console,
    csrf_of,
    free_port,
    serve_in_thread,
)

from mailflow.domain.model import OutboxStatus
from mailflow.web.app import WebServer


@pytest.fixture
def console(tmp_path: Path, imap_account: ImapAccount) -> Iterator[Console]:
    """The console of a program that polls the test Dovecot."""
    imap_account.settings()  # puts the password in the environment
    with RecordingSmtpServer() as smtp:
        toml = imap_toml(imap_account.host, imap_account.server.imaps_port,
                         imap_account.username, IMAP_PASSWORD_ENV, imap_account.ca_file)
        program = make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=smtp.port,
                               imap=toml)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        program.config.write_text(program.config.read_text()
                                  + f'\n[web]\nport = {port}\nbase_url = "{url}"\n')
        program.at(START)
        program.send_due()
        server = WebServer(program.app())
        thread = serve_in_thread(server)
        yield Console(program, smtp, server, url)
        server.stop()
        thread.join(20)


def _reply_from_elsewhere(program: Program, smtp: RecordingSmtpServer, text: str) -> bytes:
    intro = next(r.message() for r in smtp.messages
                 if r.rcpt_tos == ["ed@lib.example"] and r.message()["X-Mailflow-Kind"] == "intro")
    msg = EmailMessage()
    msg["From"] = "Ed Mentee <ed.at.home@mail.example>"
    msg["To"] = str(intro["Reply-To"])
    msg["Subject"] = "Re: " + str(intro["Subject"])
    msg["Date"] = format_datetime(program.clock.now() - timedelta(hours=1))
    msg["Message-ID"] = make_msgid(domain="mail.example")
    msg["In-Reply-To"] = msg["References"] = str(intro["Message-ID"])
    msg.set_content(text)
    return bytes(msg)


def _events(client: httpx.Client) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(client.get("/export/events.csv").text)))


def test_a_quarantined_reply_is_accepted_from_the_console(console: Console,
                                                         imap_account: ImapAccount) -> None:
    program = console.program
    imap_account.append([_reply_from_elsewhere(program, console.smtp, "MET yesterday\n")])
    program.at(START + timedelta(days=2))
    report, _ = program.poll()
    assert len(report.quarantined) == 1
    with console.signed_in(COORDINATOR) as client:
        assert "1 reply from unknown addresses" in client.get("/").text
        page = client.get("/quarantine")
        assert page.status_code == 200 and "ed.at.home@mail.example" in page.text
        assert 'value="ed@lib.example"' in page.text  # the most likely person, filled in
        message_id = html.unescape(next(
            line.split('value="')[1].split('"')[0]
            for line in page.text.splitlines() if 'name="message_id"' in line))
        assert message_id.startswith("<") and message_id.endswith("@mail.example>")
        wrong = client.post("/quarantine/accept", data={
            "csrf_token": csrf_of(page.text), "message_id": message_id,
            "as": "nobody@lib.example"})
        shown = client.get(wrong.headers["location"]).text
        assert "nobody's roster address" in html.unescape(shown)
        assert not [e for e in _events(client) if e["type"] == "met"]
        done = client.post("/quarantine/accept", data={
            "csrf_token": csrf_of(page.text), "message_id": message_id,
            "as": "ed@lib.example", "remember": "1"})
        assert done.status_code == 303
        after = client.get(done.headers["location"]).text
        assert "accepted as ed@lib.example" in after and 'id="quarantine-empty"' in after
        met = [e for e in _events(client) if e["type"] == "met"]
    assert [(e["pair_id"], e["person"]) for e in met] == [("P1", "ed@lib.example")]
    assert imap_account.messages("Quarantine") == {}
    assert len(imap_account.messages("Processed")) == 1
    with console.signed_in(LIAISON_A) as liaison:
        assert liaison.get("/quarantine").status_code == 404
        token = csrf_of(liaison.get("/").text)
        assert liaison.post("/quarantine/accept", data={
            "csrf_token": token, "message_id": message_id, "as": "ed@lib.example"},
        ).status_code == 404


def test_a_failed_email_is_sent_again_from_the_pair_page(console: Console) -> None:
    program = console.program
    with program.app().repository() as repo:
        intro = next(e for e in repo.outbox() if e.pair_id == "P1" and e.kind == "intro")
        repo.put_outbox(replace(intro, status=OutboxStatus.FAILED,
                                last_error="550 5.1.1 mailbox unavailable"))
    with console.signed_in(COORDINATOR) as client:
        page = client.get("/pairs/P1")
        assert "550 5.1.1 mailbox unavailable" in page.text and "Send again" in page.text
        done = client.post("/outbox/retry", data={"csrf_token": csrf_of(page.text),
                                                  "key": intro.key, "pair": "P1"})
        assert done.status_code == 303 and done.headers["location"].startswith("/pairs/P1")
        assert "1 failed email will be sent again" in client.get(done.headers["location"]).text
        again = client.post("/outbox/retry", data={"csrf_token": csrf_of(page.text),
                                                   "key": intro.key, "pair": "P1"})
        assert "not failed" in client.get(again.headers["location"]).text
    with program.app().repository(readonly=True) as repo:
        stored = repo.outbox_entry(intro.key)
    assert stored is not None and stored.status == OutboxStatus.PENDING
    assert stored.message_id == intro.message_id
    before = len(console.smtp.messages)
    program.send_due()
    sent = console.smtp.messages[before:]
    assert [m.message()["Message-ID"] for m in sent
            if m.message()["X-Mailflow-Kind"] == "intro"] == [intro.message_id]
    with console.signed_in(LIAISON_A) as liaison:
        token = csrf_of(liaison.get("/pairs/P1").text)
        assert "Send again" not in liaison.get("/pairs/P1").text
        assert liaison.post("/outbox/retry", data={"csrf_token": token, "key": intro.key},
                            ).status_code == 404


def test_every_failed_email_is_listed_and_sent_again_from_the_dashboard(
        console: Console) -> None:
    program = console.program
    with program.app().repository() as repo:
        intros = [e for e in repo.outbox() if e.kind == "intro"][:2]
        for entry in intros:
            repo.put_outbox(replace(entry, status=OutboxStatus.FAILED,
                                    last_error="550 5.1.1 <x@lib.example> unknown"))
    with console.signed_in(COORDINATOR) as client:
        page = client.get("/")
        assert 'id="failed-emails"' in page.text and "Send all 2 again" in page.text
        assert "550 5.1.1 &lt;x@lib.example&gt; unknown" in page.text
        done = client.post("/outbox/retry", data={"csrf_token": csrf_of(page.text)})
        assert done.status_code == 303 and done.headers["location"].startswith("/?done=")
        after = client.get(done.headers["location"]).text
        assert "2 failed emails will be sent again" in after and 'id="failed-emails"' not in after
    with console.signed_in(LIAISON_A) as liaison:
        assert 'id="failed-emails"' not in liaison.get("/").text
    with program.app().repository(readonly=True) as repo:
        assert {repo.outbox_entry(e.key).status for e in intros} == {OutboxStatus.PENDING}
