"""Signing in without a password (SPEC section 8).

GET /login shows one field; POST /login answers the same page, at once, for
any address, and sends a link in the background only to a coordinator or a
roster liaison. GET /login/<token> shows a "Sign in" button (a mail scanner
that opens links does not use it up); its POST opens the session. Both
sign-in forms carry a token bound to a cookie of the browser that showed
them, so another site cannot sign someone in (login CSRF).
"""

from __future__ import annotations

import hmac
import secrets

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from mailflow.web.console import Console, Viewer
from mailflow.web.guard import (
    COOKIE,
    PRE_COOKIE,
    action,
    console_of,
    field,
    forbidden,
    see_other,
    signed_in,
)
from mailflow.web.pages import render


def _pre_value(request: Request) -> tuple[str, bool]:
    """The browser's sign-in cookie value, and whether it must be set now."""
    value = request.cookies.get(PRE_COOKIE, "")
    if len(value) >= 32:
        return value, False
    return secrets.token_urlsafe(32), True


def _form_token(console: Console, pre: str) -> str:
    return console.keyring.digest("signin", pre)[:40]


def _set_pre(response: Response, console: Console, pre: str) -> None:
    response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="lax",
                        secure=console.secure_cookies, path="/")


async def _form_ok(request: Request, console: Console) -> tuple[bool, FormData]:
    form = await request.form()
    pre = request.cookies.get(PRE_COOKIE, "")
    token = field(form, "csrf_token")
    ok = bool(pre) and bool(token) and hmac.compare_digest(_form_token(console, pre), token)
    return ok, form


def _page(request: Request, console: Console, template: str, context: dict[str, object],
          status_code: int = 200) -> Response:
    pre, new = _pre_value(request)
    request.state.csrf_token = _form_token(console, pre)
    response = render(request, template, context, status_code=status_code)
    if new:
        _set_pre(response, console, pre)
    return response


async def login_form(request: Request) -> Response:
    console = console_of(request)
    if await signed_in(request) is not None:
        return see_other("/")
    request.state.viewer = None
    return _page(request, console, "login.html", {"sent": False, "email": ""})


async def login_request(request: Request) -> Response:
    console = console_of(request)
    ok, form = await _form_ok(request, console)
    if not ok:
        return forbidden(request)
    address = field(form, "email").strip()[:320]
    console.request_link(address)  # in the background: same answer, same time, for all
    return _page(request, console, "login.html", {"sent": True, "email": address})


async def link_page(request: Request) -> Response:
    console = console_of(request)
    token = request.path_params["token"]
    valid = await run_in_threadpool(console.auth.link_is_valid, token, console.now())
    if not valid:
        return _page(request, console, "link_invalid.html", {}, status_code=400)
    return _page(request, console, "link.html", {"token": token})


async def link_sign_in(request: Request) -> Response:
    console = console_of(request)
    ok, _ = await _form_ok(request, console)
    if not ok:
        return forbidden(request)
    token = request.path_params["token"]
    now = console.now()
    email = await run_in_threadpool(console.auth.redeem_link, token, now)
    viewer: Viewer | None = None
    if email is not None:
        viewer = await run_in_threadpool(console.viewer, email)
    if email is None or viewer is None:
        return _page(request, console, "link_invalid.html", {}, status_code=400)
    hours = console.app.settings.web.session_hours
    session_id = await run_in_threadpool(console.auth.open_session, email, now, hours)
    response = see_other("/")
    response.set_cookie(COOKIE, session_id, max_age=int(hours * 3600), httponly=True,
                        samesite="lax", secure=console.secure_cookies, path="/")
    return response


@action
async def logout(request: Request, viewer: Viewer, form: FormData) -> Response:
    console = console_of(request)
    await run_in_threadpool(console.auth.close_session, request.state.session_id,
                            console.now())
    response = see_other("/login")
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax",
                           secure=console.secure_cookies)
    return response
