"""Who is asking, and may they: the session cookie, the CSRF rule, 404 for the unseen.

Handlers are wrapped by `page` (GET: signed in, else to /login), `action`
(POST: signed in and the form's `csrf_token` matches the session's, else 403
and nothing changes) and `coordinators_only` (anyone else gets the same 404
as a page that does not exist).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailflow.web.console import Console, Viewer
from mailflow.web.pages import render

COOKIE = "mailflow_session"
PRE_COOKIE = "mailflow_signin"  # binds the sign-in forms to the browser that showed them

Page = Callable[[Request, Viewer], Awaitable[Response]]
Action = Callable[[Request, Viewer, FormData], Awaitable[Response]]


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    request.state.program_name = console.app.settings.program.name
    request.state.zone = console.app.settings.program.timezone
    return console


async def signed_in(request: Request) -> Viewer | None:
    console = console_of(request)
    session_id = request.cookies.get(COOKIE, "")
    if not session_id:
        return None
    session = await run_in_threadpool(console.auth.session, session_id, console.now())
    if session is None:
        return None
    viewer = await run_in_threadpool(console.viewer, session.email)
    if viewer is not None:
        request.state.viewer = viewer
        request.state.session_id = session_id
        request.state.csrf_token = console.keyring.csrf_token(session_id)
    return viewer


class NotFound(HTTPException):
    def __init__(self) -> None:
        super().__init__(404)


def forbidden(request: Request) -> Response:
    return render(request, "error.html", {
        "title": "Not allowed",
        "message": "This form has expired or did not come from this site: nothing was "
                   "changed. Go back, reload the page and try again."}, status_code=403)


def page(handler: Page) -> Callable[[Request], Awaitable[Response]]:
    @wraps(handler)
    async def wrapper(request: Request) -> Response:
        viewer = await signed_in(request)
        if viewer is None:
            return RedirectResponse("/login", status_code=303)
        return await handler(request, viewer)

    return wrapper


def coordinators_only(handler: Any) -> Any:
    """Inside `page`/`action`: anyone but a coordinator gets 404."""
    @wraps(handler)
    async def wrapper(request: Request, viewer: Viewer, *args: Any) -> Response:
        if not viewer.is_coordinator:
            raise NotFound()
        response: Response = await handler(request, viewer, *args)
        return response

    return wrapper


def action(handler: Action) -> Callable[[Request], Awaitable[Response]]:
    @wraps(handler)
    async def wrapper(request: Request) -> Response:
        viewer = await signed_in(request)
        form = await request.form()
        try:
            token = form.get("csrf_token")
            if viewer is None or not isinstance(token, str) or not console_of(request) \
                    .keyring.check_csrf(request.state.session_id, token):
                return forbidden(request)
            return await handler(request, viewer, form)
        finally:
            await form.close()  # an upload's temporary file

    return wrapper


def field(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value if isinstance(value, str) else default


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
