"""Behind an HTTPS reverse proxy (`base_url` https): the session cookie is `Secure`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from programs import make_program
from smtp_server import RecordingSmtpServer
from webconsole import COORDINATOR, LINK, ROWS, START, csrf_of, free_port, serve_in_thread

from mailflow.web.app import WebServer


@pytest.fixture
def https_console(tmp_path: Path) -> Iterator[tuple[str, RecordingSmtpServer]]:

    with RecordingSmtpServer() as smtp:
        program = make_program(tmp_path / "p", start=START, rows=ROWS, smtp_port=smtp.port)
        port = free_port()
        program.config.write_text(program.config.read_text() + f"\n[web]\nport = {port}\n"
                                  'base_url = "https://mentoring.lib.example/"\n')
        server = WebServer(program.app())
        thread = serve_in_thread(server)
        yield f"http://127.0.0.1:{port}", smtp
        server.stop()
        thread.join(20)


def test_the_session_cookie_is_secure_behind_https(
        https_console: tuple[str, RecordingSmtpServer]) -> None:
    url, smtp = https_console
    with httpx.Client(base_url=url, follow_redirects=False, timeout=20) as client:
        form = client.get("/login")
        assert "secure" in form.headers["set-cookie"].lower()  # the sign-in form's cookie too
        # the proxy would pass the cookie on; httpx keeps Secure cookies for https only
        client.cookies.set("mailflow_signin", form.cookies["mailflow_signin"])
        client.post("/login", data={"email": COORDINATOR, "csrf_token": csrf_of(form.text)})
        body = smtp.wait_for(1)[0].message().get_body(("plain",))
        assert body is not None
        text = body.get_content()
        assert "https://mentoring.lib.example/login/" in text and LINK.search(text) is None
        path = "/login/" + text.split("https://mentoring.lib.example/login/")[1].split()[0] \
            .rstrip(">")
        page = client.get(path)
        done = client.post(path, data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 303
    cookie = done.headers["set-cookie"]
    assert cookie.startswith("mailflow_session=")
    flags = [part.strip().lower() for part in cookie.split(";")[1:]]
    assert "secure" in flags and "httponly" in flags and "samesite=lax" in flags
