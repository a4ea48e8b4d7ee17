"""The web tests' console: uvicorn on a free loopback port, a real aiosmtpd (helpers).

``console`` (module scope) is a program folder (scaffolded templates, three
pairs, two liaisons) served by `mailflow.web.app.WebServer` in a thread with its
own event loop, over HTTP on 127.0.0.1; sign-in emails go to a
``RecordingSmtpServer``. ``console.sign_in(email)`` goes through the whole
flow: the form, the email taken from the SMTP server, the link page, its button.
The program's clock is a ``FixedClock`` the tests move (``console.clock``).
"""

from __future__ import annotations

import asyncio
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

_TESTS = Path(__file__).resolve().parent.parent
for _folder in (_TESTS / "integration", _TESTS / "integration" / "program"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from programs import Program, make_program  # noqa: E402
from smtp_server import Received, RecordingSmtpServer  # noqa: E402

from mailflow.web.app import WebServer  # noqa: E402

COORDINATOR = "committee@lib.example"
LIAISON_A = "lena.liaison@lib.example"
LIAISON_B = "omar.liaison@lib.example"
ROWS = [
    f"P1,Mia Mentor,mia@lib.example,Ed Mentee,ed@lib.example,Lena Liaison,{LIAISON_A},,,",
    f"P2,Max Mentor,max@lib.example,Eva Mentee,eva@lib.example,Lena Liaison,{LIAISON_A},,,",
    f"P3,Ida Mentor,ida@lib.example,Tom Mentee,tom@lib.example,Omar Liaison,{LIAISON_B},,,",
]
START = date(2026, 9, 1)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/login/[0-9a-f]+)")


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no csrf_token in the page"
    return match.group(1)


@dataclass
class Console:
    program: Program
    smtp: RecordingSmtpServer
    server: WebServer
    url: str

    @property
    def clock(self):  # type: ignore[no-untyped-def]
        return self.program.clock

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=20)

    def ask_link(self, client: httpx.Client, email: str) -> httpx.Response:
        form = client.get("/login")
        return client.post("/login", data={"email": email, "csrf_token": csrf_of(form.text)})

    def login_emails(self, to: str) -> list[Received]:
        return [m for m in self.smtp.messages if to in m.rcpt_tos
                and m.message()["X-Mailflow-Kind"] == "login"]

    def wait_for_link(self, to: str, count: int, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.login_emails(to)
            if len(found) >= count:
                body = found[count - 1].message().get_body(("plain",))
                assert body is not None
                match = LINK.search(body.get_content())
                assert match, "no link in the login email"
                return match.group(1)
            time.sleep(0.05)
        raise TimeoutError(f"no login email #{count} for {to}")

    @contextmanager
    def signed_in(self, email: str) -> Iterator[httpx.Client]:
        client = self.sign_in(email)
        try:
            yield client
        finally:
            client.close()

    def sign_in(self, email: str) -> httpx.Client:
        """A signed-in client. The clock moves 15 minutes first, so that no address
        reaches the limit of 5 links an hour however many tests sign in."""
        self.later(minutes=15)
        client = self.client()
        before = len(self.login_emails(email))
        assert self.ask_link(client, email).status_code == 200
        link = self.wait_for_link(email, before + 1)
        page = client.get(link.removeprefix(self.url))
        assert page.status_code == 200, page.text
        done = client.post(link.removeprefix(self.url), data={"csrf_token": csrf_of(page.text)})
        assert done.status_code == 303 and done.headers["location"] == "/", done.text
        return client

    def reset_clock(self) -> None:
        self.clock.set(datetime(2026, 11, 2, 12, tzinfo=ZoneInfo("America/Chicago")))

    def later(self, **delta: float) -> None:
        self.clock.set(self.clock.now() + timedelta(**delta))


def _serve(server: WebServer, ready: threading.Event) -> None:
    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        ready.set()
        await task

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_console(folder: Path, smtp: RecordingSmtpServer) -> tuple[Program, WebServer, str]:
    program = make_program(folder, start=START, rows=ROWS, smtp_port=smtp.port)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # base_url is the address people open: the links in the emails point at this server
    program.config.write_text(program.config.read_text()
                              + f'\n[web]\nport = {port}\nbase_url = "{url}"\n')
    program.clock.set(datetime(2026, 11, 2, 12, tzinfo=program.zone))
    return program, WebServer(program.app()), url


def serve_in_thread(server: WebServer) -> threading.Thread:
    """Serve in a thread with its own event loop; returns once it listens."""
    ready = threading.Event()
    thread = threading.Thread(target=_serve, args=(server, ready), daemon=True)
    thread.start()
    assert ready.wait(20), "the console did not start"
    return thread
