"""`mailflow demo --web`: after the term, the real console serves the demo program and the
coordinator's sign-in link it prints works while the demo runs; links asked for at /login
are printed too; Ctrl-C stops it."""

from __future__ import annotations

import csv
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

LINK = re.compile(r"(http://127\.0\.0\.1:\d+)(/login/[A-Za-z0-9_-]+)\s+\(for (\S+)\)")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(html: str) -> str:
    match = CSRF.search(html)
    assert match, html[:500]
    return match.group(1)


class _Lines:
    """The demo's stdout, read in a thread so that the test can wait with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        stdout = process.stdout
        threading.Thread(target=lambda: [self.lines.put(line) for line in stdout],
                         daemon=True).start()

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(line)
            match = pattern.search(line)
            if match:
                return match
        raise AssertionError(f"no line matching {pattern.pattern!r} in:\n{''.join(self.seen)}")


@pytest.mark.slow
def test_demo_web_serves_the_program_and_its_sign_in_link_works(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    process = subprocess.Popen(
        [sys.executable, "-W", "error", "-u", "-m", "mailflow", "demo", "--dir", str(folder),
         "--web"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = _Lines(process)
        first = lines.wait_for(LINK, timeout=240)
        base, path, who = first.groups()
        assert who == "coordinator@riverside-libraries.example"
        with httpx.Client(base_url=base, timeout=20) as browser:
            page = browser.get(path)
            assert page.status_code == 200 and 'id="sign-in"' in page.text
            done = browser.post(path, data={"csrf_token": _csrf(page.text)})
            assert done.status_code == 303 and done.headers["location"] == "/"
            dashboard = browser.get("/")
            assert dashboard.status_code == 200
            assert "P01" in dashboard.text and "Riverside Libraries" in dashboard.text
            assert browser.get("/pairs/P01").status_code == 200
        # a liaison of the demo asks for a link at /login: it is printed as it arrives
        with (folder / "roster.csv").open(encoding="utf-8") as roster:
            liaison = next(csv.DictReader(roster))["liaison_email"].lower()
        with httpx.Client(base_url=base, timeout=20) as other:
            form = other.get("/login")
            asked = other.post("/login", data={"email": liaison, "csrf_token": _csrf(form.text)})
            assert asked.status_code == 200
        second = lines.wait_for(LINK, timeout=30)
        assert second.group(3) == liaison and second.group(2) != path
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        lines.wait_for(re.compile("The console stopped"), timeout=10)
        login_files = list((folder / "mailboxes").glob("*/*-login.eml"))
        assert len(login_files) == 2  # filed beside the term's mail, numbering going on
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()
