"""The templates pages (coordinators only): list, editor with preview, history, revert.

Saving goes through `services.template_files.save_template`: the folder must
still pass `mailflow templates check` with the new text, or the file is left
as it was and the page shows the error with its line. The preview renders
the text in the editor (saved or not) for a chosen pair, as HTML and text.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from mailflow.app import App
from mailflow.errors import MailflowError
from mailflow.render.engine import Renderer
from mailflow.services.preview import pair_templates, preview
from mailflow.services.template_files import (
    LAYOUT_NAME,
    diff,
    editable_names,
    file_name,
    folder_with,
    read_template,
    revert_template,
    save_template,
    versions,
)
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

MAX_SOURCE = 200_000


def _name(request: Request) -> str:
    name = str(request.path_params["name"])
    if name not in editable_names():
        raise NotFound()
    return name


def _preview(app: App, name: str, source: str, pair_id: str) -> dict[str, Any]:
    """``source`` as template ``name`` rendered for ``pair_id`` (or sample data): the
    subject, text and HTML, or the error. The layout is shown around a topic email."""
    shown = "topic" if name == LAYOUT_NAME else name
    use_pair = pair_id if pair_id and shown in pair_templates() else None
    try:
        with folder_with(app.settings.templates_dir, name, source) as copy:
            rendered, _ = preview(app, shown, use_pair, renderer=Renderer(copy))
    except MailflowError as exc:
        return {"error": str(exc)}
    return {"error": "", "subject": rendered.subject, "text": rendered.text,
            "html": rendered.html}


def _editor_context(app: App, name: str, source: str | None, pair_id: str) -> dict[str, Any]:
    folder = app.settings.templates_dir
    text = read_template(folder, name) if source is None else source
    with app.repository(readonly=True) as repo:
        pair_ids = sorted(repo.pairs())
    shown = "topic" if name == LAYOUT_NAME else name
    return {
        "name": name, "file": file_name(name), "source": text, "pair_ids": pair_ids,
        "pair_id": pair_id, "uses_pair": shown in pair_templates(),
        "preview": _preview(app, name, text, pair_id),
        "problems": [], "message": "", "versions": len(versions(folder, name)),
    }


@page
@coordinators_only
async def template_list(request: Request, viewer: Viewer) -> Response:
    return render(request, "templates.html", {"names": editable_names()})


@page
@coordinators_only
async def template_editor(request: Request, viewer: Viewer) -> Response:
    name = _name(request)
    app = console_of(request).app
    pair_id = request.query_params.get("pair", "")[:100]
    context = await run_in_threadpool(_editor_context, app, name, None, pair_id)
    context["message"] = request.query_params.get("done", "")[:200]
    return render(request, "template.html", context)


@action
@coordinators_only
async def template_save(request: Request, viewer: Viewer, form: FormData) -> Response:
    """Save (the default), or only preview with ``preview=1``."""
    name = _name(request)
    app = console_of(request).app
    source = field(form, "source")[:MAX_SOURCE]
    pair_id = field(form, "pair")[:100]
    if field(form, "preview") == "1":
        context = await run_in_threadpool(_editor_context, app, name, source, pair_id)
        if request.headers.get("x-mailflow-fragment") == "preview":
            return render(request, "_preview.html", context)
        return render(request, "template.html", context)
    problems = await run_in_threadpool(save_template, app.settings.templates_dir, name, source)
    if not problems:
        return see_other(f"/templates/{name}?done={quote('Saved')}"
                         + (f"&pair={quote(pair_id)}" if pair_id else ""))
    context = await run_in_threadpool(_editor_context, app, name, source, pair_id)
    context["problems"] = problems
    return render(request, "template.html", context, status_code=400)


@page
@coordinators_only
async def template_history(request: Request, viewer: Viewer) -> Response:
    name = _name(request)
    folder = console_of(request).app.settings.templates_dir

    def build() -> dict[str, Any]:
        current = read_template(folder, name)
        found = versions(folder, name)
        shown = []
        newer, newer_label = current, "current"
        for version in found:  # newest first: each diff shows what the next save changed
            label = f"version {version.number}"
            shown.append({"number": version.number, "saved_at": version.saved_at,
                          "diff": diff(version.text, newer, label, newer_label)})
            newer, newer_label = version.text, label
        return {"name": name, "file": file_name(name), "versions": shown,
                "message": request.query_params.get("done", "")[:200]}

    return render(request, "history.html", await run_in_threadpool(build))


@action
@coordinators_only
async def template_revert(request: Request, viewer: Viewer, form: FormData) -> Response:
    name = _name(request)
    number = field(form, "version")
    if not number.isdigit():
        raise NotFound()
    folder = console_of(request).app.settings.templates_dir
    try:
        problems = await run_in_threadpool(revert_template, folder, name, int(number))
    except MailflowError:
        raise NotFound() from None
    if problems:
        message = f"Not restored: version {number} no longer passes the check: {problems[0]}"
    else:
        message = f"Version {number} restored"
    return see_other(f"/templates/{name}/history?done={quote(message)}")
