"""The console's routes, and serving them in the running event loop.

`build(app)` wires the routes of SPEC section 8 to their handlers;
`serve(app, ...)` runs uvicorn in the caller's event loop (the same one as
the scheduler under `mailflow run`), without its signal handlers: the caller
owns SIGTERM and stops the server with `stop()`.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.resources import files

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailflow.app import App
from mailflow.errors import MailflowError
from mailflow.web import actions, editor, mailbox, signin, views
from mailflow.web.console import Console
from mailflow.web.guard import console_of, signed_in
from mailflow.web.pages import SecurityHeaders, render

log = logging.getLogger("mailflow.web")

_SECRET_PATH = re.compile(r"^/login/[^/]+")


def shown_path(path: str) -> str:
    """A path as logged: a sign-in link's token is never written anywhere."""
    return _SECRET_PATH.sub("/login/<token>", path)


class AccessLog:
    """One line per request, without query strings or tokens (uvicorn's own is off)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = [0]

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            log.info("%s %s %s %.0fms", scope["method"], shown_path(scope["path"]), status[0],
                     (time.monotonic() - started) * 1000)


async def _http_error(request: Request, exc: Exception) -> Response:
    code = exc.status_code if isinstance(exc, HTTPException) else 500
    if code == 404:
        await signed_in(request)
        return render(request, "error.html", {
            "title": "Not found", "message": "There is no such page, or it is not yours to see."},
            status_code=404)
    console_of(request)
    return render(request, "error.html", {"title": "Error", "message": "Something went wrong."},
                  status_code=code)


async def _mailflow_error(request: Request, exc: Exception) -> Response:
    """A MailflowError no handler expected (the store busy for minutes, a broken config
    file on disk): said on a page, logged once, the console goes on."""
    log.error("%s %s: %s", request.method, shown_path(request.url.path), exc)
    console_of(request)
    return render(request, "error.html", {
        "title": "Not available just now",
        "message": f"{exc}. Try again in a moment."}, status_code=503)


def routes() -> list[Route | Mount]:
    return [
        Route("/login", signin.login_form, methods=["GET"]),
        Route("/login", signin.login_request, methods=["POST"]),
        Route("/login/{token}", signin.link_page, methods=["GET"]),
        Route("/login/{token}", signin.link_sign_in, methods=["POST"]),
        Route("/logout", signin.logout, methods=["POST"]),
        Route("/", views.dashboard, methods=["GET"]),
        Route("/pairs/{pair_id}", views.pair_page, methods=["GET"]),
        Route("/pairs/{pair_id}/{verb}", actions.pair_action, methods=["POST"]),
        Route("/escalations", views.escalations_page, methods=["GET"]),
        Route("/escalations/{escalation_id}/resolve", actions.resolve, methods=["POST"]),
        Route("/plan", views.plan_page, methods=["GET"]),
        Route("/report", views.report_page, methods=["GET"]),
        Route("/templates", editor.template_list, methods=["GET"]),
        Route("/templates/{name}", editor.template_editor, methods=["GET"]),
        Route("/templates/{name}", editor.template_save, methods=["POST"]),
        Route("/templates/{name}/history", editor.template_history, methods=["GET"]),
        Route("/templates/{name}/revert", editor.template_revert, methods=["POST"]),
        Route("/roster", actions.roster_form, methods=["GET"]),
        Route("/roster", actions.roster_upload, methods=["POST"]),
        Route("/outbox/retry", mailbox.retry, methods=["POST"]),
        Route("/quarantine", mailbox.quarantine_page, methods=["GET"]),
        Route("/quarantine/accept", mailbox.quarantine_accept, methods=["POST"]),
        Route("/announce", actions.announce_form, methods=["GET"]),
        Route("/announce", actions.announce_post, methods=["POST"]),
        Route("/export/{what}.csv", views.export_csv, methods=["GET"]),
        Route("/api/status", views.api_status, methods=["GET"]),
        Mount("/static", StaticFiles(directory=str(files("mailflow.web").joinpath("static"))),
              name="static"),
    ]


def build(app: App, current: Callable[[], App] | None = None) -> Starlette:
    """The console as an ASGI application over ``app`` (its settings, clock and store);
    ``current``, if given, says which App to use at each request (a reloaded one)."""
    web = Starlette(routes=routes(), exception_handlers={HTTPException: _http_error,
                                                          MailflowError: _mailflow_error})
    web.state.console = Console(app, current)
    web.add_middleware(SecurityHeaders)
    web.add_middleware(AccessLog)
    return web


def _bind(host: str, port: int) -> socket.socket:
    """Listen now, so that a port in use is an error at start that says so."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise MailflowError(f"[web]: cannot listen on {host}:{port} ({exc.strerror}); "
                            "is another console running? Set [web].port or --port") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its signal handling: the service (or the CLI) owns the signals."""

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        pass

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WebServer:
    """The console served in the current event loop; `stop()` ends it."""

    def __init__(self, app: App, host: str | None = None, port: int | None = None, *,
                 current: Callable[[], App] | None = None) -> None:
        settings = app.settings.web
        self.asgi = build(app, current)
        self.config = uvicorn.Config(self.asgi, host=host or settings.host,
                                     port=settings.port if port is None else port,
                                     log_config=None, access_log=False, lifespan="off",
                                     proxy_headers=settings.trusted_proxy,
                                     forwarded_allow_ips="*" if settings.trusted_proxy else "",
                                     server_header=False)
        # uvicorn's access log would write the sign-in tokens in /login/<token>: ours
        # (AccessLog) leaves them out; uvicorn's is off even if logging is reconfigured
        logging.getLogger("uvicorn.access").disabled = True
        self.server = _Server(self.config)
        self.socket = _bind(self.config.host, self.config.port)

    @property
    def console(self) -> Console:
        console: Console = self.asgi.state.console
        return console

    @property
    def started(self) -> bool:
        return bool(self.server.started)

    def port(self) -> int:
        """The port it listens on (useful with port 0)."""
        return int(self.socket.getsockname()[1])

    async def serve(self) -> None:
        log.info("web console on http://%s:%s (links point to %s)", self.config.host,
                 self.config.port, self.console.base_url)
        try:
            await self.server.serve(sockets=[self.socket])
        finally:
            self.socket.close()
            await self.console.drain()

    def stop(self) -> None:
        self.server.should_exit = True


async def serve_until_signalled(app: App, host: str | None, port: int | None) -> None:
    """`mailflow web`: serve until SIGTERM or SIGINT."""
    import asyncio
    import signal

    server = WebServer(app, host, port)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.stop)
    await server.serve()
