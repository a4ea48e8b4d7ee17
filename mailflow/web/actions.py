"""The POSTs that change the program: pair actions, resolving, the roster, announcements.

Each calls the service the command line calls (`mailflow pair pause|resume|end`,
`mailflow roster import`) or the one a liaison's RESOLVED reply goes through,
so what is done here is recorded and exported like what is done by email.
"""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from mailflow.errors import MailflowError, RosterError, UnknownPairError
from mailflow.services.announce import announce
from mailflow.services.escalations import UnknownEscalation, resolve_escalation
from mailflow.services.pairs import end_pair, pause_pair, resume_pair
from mailflow.services.preview import preview_announcement
from mailflow.web.console import Viewer
from mailflow.web.guard import (
    NotFound,
    action,
    console_of,
    coordinators_only,
    field,
    page,
    see_other,
)
from mailflow.web.pages import render

MAX_ROSTER_BYTES = 5 << 20
ROSTER_SUFFIXES = (".csv", ".txt", ".xlsx")
MAX_ANNOUNCEMENT = 100_000


def _done(url: str, message: str) -> Response:
    return see_other(f"{url}?done={quote(message)}")


@action
@coordinators_only
async def pair_action(request: Request, viewer: Viewer, form: FormData) -> Response:
    pair_id, verb = request.path_params["pair_id"], request.path_params["verb"]
    app = console_of(request).app
    url = f"/pairs/{quote(pair_id)}"
    try:
        if verb == "pause":
            until = await run_in_threadpool(pause_pair, app, pair_id, None)
            message = f"Paused until {until}"
        elif verb == "resume":
            await run_in_threadpool(resume_pair, app, pair_id)
            message = "Resumed"
        elif verb == "end":
            await run_in_threadpool(end_pair, app, pair_id, field(form, "reason")[:500])
            message = "The match is ended"
        else:
            raise NotFound()
    except UnknownPairError:
        raise NotFound() from None
    except MailflowError as exc:
        message = f"Not done: {exc}"
    return _done(url, message)


@action
async def resolve(request: Request, viewer: Viewer, form: FormData) -> Response:
    esc_id = request.path_params["escalation_id"]
    app = console_of(request).app

    def run() -> str:
        with app.repository(readonly=True) as repo:
            esc = repo.escalation(esc_id)
        if esc is None or not viewer.may_see(esc.pair_id):
            raise NotFound()
        try:
            resolve_escalation(app, esc_id, field(form, "note")[:2000], by=viewer.email,
                               role=viewer.role)
        except UnknownEscalation:
            raise NotFound() from None
        except MailflowError as exc:
            return f"Not done: {exc}"
        return f"Escalation {esc_id} resolved"

    return _done("/escalations", await run_in_threadpool(run))


@action
@coordinators_only
async def roster_upload(request: Request, viewer: Viewer, form: FormData) -> Response:
    upload = form.get("file")
    apply = field(form, "apply") == "1"
    context: dict[str, Any] = {"apply": apply, "problems": [], "report": None, "error": "",
                               "filename": ""}
    if not isinstance(upload, UploadFile) or not upload.filename:
        context["error"] = "Choose the roster file (CSV, or an .xlsx workbook) to upload."
        return render(request, "roster.html", context, status_code=400)
    name = PurePath(upload.filename).name or "roster.csv"
    suffix = PurePath(name).suffix.lower()
    context["filename"] = name
    data = await upload.read(MAX_ROSTER_BYTES + 1)
    if len(data) > MAX_ROSTER_BYTES:
        context["error"] = "The file is larger than 5 MB: is it the right one?"
        return render(request, "roster.html", context, status_code=400)
    app = console_of(request).app

    def run() -> None:
        with tempfile.TemporaryDirectory(prefix="mailflow-roster-") as tmp:
            path = Path(tmp) / (name if suffix in ROSTER_SUFFIXES else name + ".csv")
            path.write_bytes(data)
            try:
                context["report"] = app.import_roster(path, dry_run=not apply)
            except RosterError as exc:
                context["problems"] = list(exc.problems)
            except MailflowError as exc:
                context["error"] = str(exc)

    await run_in_threadpool(run)
    failed = bool(context["problems"] or context["error"])
    return render(request, "roster.html", context, status_code=400 if failed else 200)


@page
@coordinators_only
async def roster_form(request: Request, viewer: Viewer) -> Response:
    return render(request, "roster.html", {"apply": False, "problems": [], "report": None,
                                           "error": "", "filename": ""})


def _announce_context(form: FormData | None = None) -> dict[str, Any]:
    return {"subject": field(form, "subject") if form else "",
            "body": field(form, "body") if form else "",
            "to": field(form, "to", "all") if form else "all",
            "error": "", "preview": None, "report": None, "sent": None}


@page
@coordinators_only
async def announce_form(request: Request, viewer: Viewer) -> Response:
    return render(request, "announce.html", _announce_context())


@action
@coordinators_only
async def announce_post(request: Request, viewer: Viewer, form: FormData) -> Response:
    """As `mailflow announce`: checked for every recipient first; ``preview=1`` sends nothing."""
    context = _announce_context(form)
    subject = " ".join(context["subject"].split())[:300]
    source = f"Subject: {subject}\n\n{context['body'][:MAX_ANNOUNCEMENT]}"
    app = console_of(request).app
    try:
        if field(form, "preview") == "1":
            context["report"], context["preview"] = await preview_announcement(
                app, source, context["to"])
        else:
            context["report"] = await announce(app, source, context["to"])
            context["sent"] = context["report"].sent
    except MailflowError as exc:
        context["error"] = str(exc)
        return render(request, "announce.html", context, status_code=400)
    return render(request, "announce.html", context)
