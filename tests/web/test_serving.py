"""`mailflow web` serves the console until SIGTERM; a port in use is an error that says so.

(`mailflow run` with `[web].enabled = true` serving it beside the scheduler, and
being SIGKILLed while it does, is tests/reliability/test_crash_kill_loop.py.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from smtp_server import RecordingSmtpServer
from webconsole import COORDINATOR, Console, free_port, serve_in_thread, start_console


def _mailflow(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "mailflow", "-c", str(config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _wait_for(url: str, proc: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
    raise TimeoutError(url)


def test_mailflow_web_serves_until_sigterm(tmp_path: Path) -> None:
    with RecordingSmtpServer() as smtp:
        program, server, _ = start_console(tmp_path / "p", smtp)
        server.socket.close()
        key = program.folder / "mailflow.json.web-key"
        key.unlink()  # made again on this first start
        port = free_port()
        proc = _mailflow(program.config, "web", "--port", str(port))
        try:
            page = _wait_for(f"http://127.0.0.1:{port}/login", proc)
            assert page.status_code == 200 and 'id="email"' in page.text
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert f"web console on http://127.0.0.1:{port}" in err
        assert "GET /login 200" in err
        assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32


def test_a_port_in_use_is_an_error_that_says_so(tmp_path: Path) -> None:
    with RecordingSmtpServer() as smtp, socket.socket() as taken:
        program, server, _ = start_console(tmp_path / "p", smtp)
        server.socket.close()
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = _mailflow(program.config, "web", "--port", str(port))
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err


def test_a_damaged_store_is_a_page_that_says_so_and_the_console_goes_on(
        tmp_path: Path) -> None:
    with RecordingSmtpServer() as smtp:
        program, server, url = start_console(tmp_path / "p", smtp)
        thread = serve_in_thread(server)
        try:
            console = Console(program, smtp, server, url)
            with console.signed_in(COORDINATOR) as client:
                assert client.get("/").status_code == 200
                store = program.folder / "mailflow.json"
                saved = store.read_bytes()
                store.write_bytes(b"{not json")
                broken = client.get("/")
                assert broken.status_code == 503
                assert "restore it from a backup" in broken.text
                assert "Traceback" not in broken.text
                store.write_bytes(saved)
                assert client.get("/").status_code == 200
                assert client.get("/login").status_code in (200, 303)
        finally:
            server.stop()
            thread.join(20)
