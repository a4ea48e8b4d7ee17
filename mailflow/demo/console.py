"""`mailflow demo --web`: the finished demo program, served in the web console.

    serve_console(summary, port=0, say=print)

After the term, the demo's program folder is served by the real console
(:class:`mailflow.web.app.WebServer`) on 127.0.0.1, with the clock held at the
moment the demo ended (so the program looks as the summary says, and a sign-in
link stays valid while the demo runs). Sign-in emails go to a mail catcher like the
term's, filed in the same ``mailboxes/`` folder; the coordinator's first link is
asked for at once, and every link anyone asks for at ``/login`` (a liaison of the
demo, say) is printed as it arrives. Ctrl-C (or SIGTERM) ends it.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import signal
import socket
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from mailflow.app import App
from mailflow.clock import FixedClock
from mailflow.demo.program import replace_tables
from mailflow.demo.servers import Delivery, MailCatcher
from mailflow.demo.summary import DemoSummary
from mailflow.errors import MailflowError
from mailflow.web.app import WebServer

HOST = "127.0.0.1"
_WATCH_SECONDS = 0.2


def serve_console(summary: DemoSummary, port: int = 0,
                  say: Callable[[str], None] = print) -> None:
    """Serve the demo's program until interrupted; print the sign-in links as they come."""
    if summary.simulated_until is None:
        raise MailflowError("the demo did not run: there is nothing to serve")
    with MailCatcher(summary.mailboxes) as smtp:
        url = _configure(summary.config, smtp.port, port or _free_port())
        app = App.load(summary.config, FixedClock(summary.simulated_until))
        asyncio.run(_serve(app, smtp, url, say))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _configure(config: Path, smtp_port: int, web_port: int) -> str:
    """Point the program at this run's mail catcher and console address."""
    url = f"http://{HOST}:{web_port}"
    text = config.read_text(encoding="utf-8")
    smtp = re.sub(r"(?m)^port = \d+$", f"port = {smtp_port}",
                  _table(text, "smtp"), count=1)
    web = (f'[web]\n# The demo\'s console (`mailflow demo --web`), on loopback only.\n'
           f'enabled = false\nhost = "{HOST}"\nport = {web_port}\nbase_url = "{url}"\n'
           "session_hours = 12\n")
    if "[web]" not in text.splitlines():
        text += "\n[web]\n"
    config.write_text(replace_tables(text, {"smtp": smtp, "web": web}), encoding="utf-8")
    return url


def _table(text: str, name: str) -> str:
    match = re.search(rf"(?ms)^\[{name}\]\n.*?(?=^\[|\Z)", text)
    if match is None:
        raise MailflowError(f"the demo's config.toml has no [{name}] table")
    return match.group(0).rstrip("\n") + "\n"


async def _serve(app: App, smtp: MailCatcher, url: str, say: Callable[[str], None]) -> None:
    server = WebServer(app)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.stop)
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():
        await asyncio.sleep(0.02)
    if serving.done():
        await serving  # uvicorn could not start: its error
        return
    coordinator = app.settings.program.coordinators[0]
    say(f"\nThe web console of the demo program: {url}/\n"
        f"Sign in as its coordinator ({coordinator}) with this link (it works once; "
        "ask for more at /login, they are printed here):")
    if not await server.console.send_login_link(coordinator):
        say("  (the sign-in email could not be sent: see demo.log)")
    watcher = asyncio.create_task(_print_links(smtp, url, say))
    try:
        await serving
    finally:
        watcher.cancel()
    say("The console stopped.")


async def _print_links(smtp: MailCatcher, url: str, say: Callable[[str], None]) -> None:
    link = re.compile(re.escape(url) + r"/login/[A-Za-z0-9_-]+")
    while True:
        for delivery in smtp.take_new():
            found = _link_in(delivery, link)
            if found:
                say(f"  {found}   (for {delivery.recipient})")
        await asyncio.sleep(_WATCH_SECONDS)


def _link_in(delivery: Delivery, link: re.Pattern[str]) -> str | None:
    message = email.message_from_bytes(delivery.data, policy=email.policy.default)
    if message.get("X-Mailflow-Kind") != "login" or not isinstance(message, EmailMessage):
        return None
    body = message.get_body(("plain",))
    match = link.search(body.get_content()) if body is not None else None
    return match.group(0) if match else None
