"""Server-rendered pages: one Jinja2 environment (autoescaped), the security headers.

Every value from the store, the roster or a reply is escaped by autoescape;
pages carry no inline script, so the Content-Security-Policy can forbid them.
Inline styles are allowed: the committee's report and the preview of an HTML
email carry their own CSS (the email's in `style` attributes, as mail needs).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-src 'self'; frame-ancestors 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """Adds the CSP, no-referrer and friends to every response (ASGI middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in HEADERS if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, with_headers)


def _when(value: Any, zone: str = "UTC") -> str:
    """``2026-12-01 09:00`` in the program's time zone; dates as ``2026-12-01``."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(ZoneInfo(zone))
        return str(value.strftime("%Y-%m-%d %H:%M"))
    if isinstance(value, date):
        return str(value.isoformat())
    return str(value)


# what each escalation reason means, in the words the default digests use
REASON_WORDS = {
    "help": "help requested", "end_request": "asked to end the match",
    "bounce": "email bouncing", "quiet": "quiet too long", "no_contact": "no first contact yet",
}


def reason_words(reason: object) -> str:
    return REASON_WORDS.get(str(reason), str(reason))


@cache
def environment() -> Environment:
    folder = str(files("mailflow.web").joinpath("templates"))
    env = Environment(loader=FileSystemLoader(folder), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    env.filters["reason"] = reason_words
    return env


def render(request: Request, template: str, context: dict[str, Any],
           status_code: int = 200) -> HTMLResponse:
    """A page; ``context`` gets the request, and (from the request's state) the viewer,
    the CSRF token and the program's name and time zone."""
    state = request.state
    full = {
        "request": request,
        "viewer": getattr(state, "viewer", None),
        "csrf_token": getattr(state, "csrf_token", ""),
        "program_name": getattr(state, "program_name", "mailflow"),
        "zone": getattr(state, "zone", "UTC"),
        "path": request.url.path,
        **context,
    }
    html = environment().get_template(template).render(full)
    return HTMLResponse(html, status_code=status_code)
