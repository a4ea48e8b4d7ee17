"""Coordinators' repairs (SPEC 10): failed emails sent again, quarantined replies accepted.

`POST /outbox/retry` calls what `mailflow outbox retry` calls; `GET /quarantine`
lists what `mailflow quarantine list` lists (with the roster person each reply
most likely belongs to) and `POST /quarantine/accept` does what `mailflow
quarantine accept MESSAGE_ID --as EMAIL [--remember]` does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from mailflow.errors import MailflowError
from mailflow.services.outbox import retry_failed
from mailflow.services.quarantine import accept, quarantined
from mailflow.web.console import Viewer
from mailflow.web.guard import action, console_of, coordinators_only, field, page, see_other
from mailflow.web.pages import render


@action
@coordinators_only
async def retry(request: Request, viewer: Viewer, form: FormData) -> Response:
    """One failed email (``key``) or all of a pair's (``pair``) back to pending."""
    key, pair_id = field(form, "key") or None, field(form, "pair") or None
    app = console_of(request).app
    try:
        again = await run_in_threadpool(lambda: retry_failed(app, pair_id=pair_id, key=key))
        message = (f"{len(again)} failed email{'' if len(again) == 1 else 's'} will be sent "
                   "again by the next send pass (same Message-ID)")
    except MailflowError as exc:
        message = f"Not done: {exc}"
    back = f"/pairs/{quote(pair_id)}" if pair_id else "/"
    return see_other(f"{back}?done={quote(message)}")


@page
@coordinators_only
async def quarantine_page(request: Request, viewer: Viewer) -> Response:
    app = console_of(request).app
    listed = await run_in_threadpool(quarantined, app)
    return render(request, "quarantine.html", {
        "listed": listed, "message": request.query_params.get("done", "")[:300],
        "error": request.query_params.get("error", "")[:500]})


@action
@coordinators_only
async def quarantine_accept(request: Request, viewer: Viewer, form: FormData) -> Response:
    app = console_of(request).app
    message_id = field(form, "message_id")
    try:
        done = await accept(app, message_id, field(form, "as"),
                            remember=field(form, "remember") == "1")
    except MailflowError as exc:
        return see_other(f"/quarantine?error={quote(str(exc))}")
    parts: list[Any] = [f"{done.message_id} accepted as {done.person}'s reply ({done.outcome})"]
    if done.remembered:
        parts.append(f"{done.sender} is now one of {done.person}'s addresses")
    return see_other(f"/quarantine?done={quote('; '.join(map(str, parts)))}")
