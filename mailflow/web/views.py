"""The read-only pages: dashboard, a pair, escalations, plan, report, exports, status JSON.

Each handler reads the store once (in a worker thread, so a pass holding the
store never stalls the event loop), calls the service the CLI calls, and
renders; a liaison's view is limited to their own pairs.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from mailflow.app import App
from mailflow.domain.model import OutboxStatus
from mailflow.report.page import build_report
from mailflow.services import export as exporter
from mailflow.services.forecast import forecast
from mailflow.services.overview import overview, pair_history
from mailflow.services.state import ProgramState
from mailflow.services.status import program_status
from mailflow.web.console import Viewer
from mailflow.web.guard import NotFound, console_of, coordinators_only, page, signed_in
from mailflow.web.pages import render

PLAN_DAYS = 30


def _scope(viewer: Viewer) -> frozenset[str] | None:
    return None if viewer.is_coordinator else viewer.pair_ids


def load_state(app: App) -> tuple[ProgramState, dict[str, Any]]:
    settings = app.settings
    with app.repository(readonly=True) as repo:
        state = ProgramState.load(repo, settings.program_model(), app.clock.now(),
                                  share_notes_with_liaison=settings.privacy
                                  .share_notes_with_liaison)
        health = repo.meta("health")
    return state, health


def _page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")
    return int(text) if text.isdigit() and 0 < len(text) < 7 else 1


@page
async def dashboard(request: Request, viewer: Viewer) -> Response:
    app = console_of(request).app
    query = request.query_params.get("q", "")[:200]
    number = _page_number(request)

    def build() -> dict[str, Any]:
        state, health = load_state(app)
        return {"overview": overview(state, _scope(viewer), query=query, page=number),
                "health": health, "query": query,
                "message": request.query_params.get("done", "")[:300]}

    return render(request, "dashboard.html", await run_in_threadpool(build))


@page
async def pair_page(request: Request, viewer: Viewer) -> Response:
    pair_id = request.path_params["pair_id"]
    if not viewer.may_see(pair_id):
        raise NotFound()
    app = console_of(request).app

    def build() -> dict[str, Any] | None:
        state, _ = load_state(app)
        if pair_id not in state.pairs:
            return None
        show_notes = viewer.is_coordinator or state.share_notes_with_liaison
        return {"pair": pair_history(state, pair_id, show_notes=show_notes),
                "failed": str(OutboxStatus.FAILED)}

    context = await run_in_threadpool(build)
    if context is None:
        raise NotFound()
    context["message"] = request.query_params.get("done", "")[:200]
    return render(request, "pair.html", context)


@page
async def escalations_page(request: Request, viewer: Viewer) -> Response:
    app = console_of(request).app

    def build() -> dict[str, Any]:
        state, _ = load_state(app)
        mine = [e for e in state.escalations if viewer.may_see(e.pair_id)]
        return {"open": [e for e in mine if e.resolved_at is None],
                "resolved": sorted((e for e in mine if e.resolved_at is not None),
                                   key=lambda e: e.resolved_at or e.opened_at, reverse=True),
                "message": request.query_params.get("done", "")[:200]}

    return render(request, "escalations.html", await run_in_threadpool(build))


@page
async def plan_page(request: Request, viewer: Viewer) -> Response:
    app = console_of(request).app
    zone = ZoneInfo(app.settings.program.timezone)

    def build() -> dict[str, Any]:
        days: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in forecast(app, PLAN_DAYS):
            if viewer.may_see(row["pair_id"]):
                day = datetime.fromisoformat(row["due_at"]).astimezone(zone)
                days[day.strftime("%A %Y-%m-%d")].append({**row, "time": day.strftime("%H:%M")})
        return {"days": list(days.items()), "span": PLAN_DAYS}

    return render(request, "plan.html", await run_in_threadpool(build))


@page
async def report_page(request: Request, viewer: Viewer) -> Response:
    app = console_of(request).app
    if not viewer.is_coordinator:
        raise NotFound()

    def build() -> str:
        state, _ = load_state(app)
        return build_report(state, generated_at=app.clock.now(),  # the program clock (--now)
                            share_notes=app.settings.privacy.share_notes_with_liaison)

    return HTMLResponse(await run_in_threadpool(build))


@page
@coordinators_only
async def export_csv(request: Request, viewer: Viewer) -> Response:
    what = request.path_params["what"]
    if what not in exporter.FIELDS:
        raise NotFound()
    app = console_of(request).app

    def build() -> str:
        with app.repository(readonly=True) as repo:
            return exporter.render(exporter.rows(repo, what), what, "csv")

    text = await run_in_threadpool(build)
    return Response(text, media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="{what}.csv"'})


def limit_status(result: dict[str, Any], pair_ids: frozenset[str]) -> dict[str, Any]:
    """`status --json` with only these pairs, and counts of them alone."""
    rows = [r for r in result["pairs"] if r["pair_id"] in pair_ids]
    counts: dict[str, int] = {"pairs": len(rows)}
    for row in rows:
        counts[f"pairs_{row['state']}"] = counts.get(f"pairs_{row['state']}", 0) + 1
    counts["open_escalations"] = sum(r["open_escalations"] for r in rows)
    return {"pairs": rows, "counts": counts, "health": result["health"]}


async def api_status(request: Request) -> Response:
    viewer = await signed_in(request)
    if viewer is None:
        return JSONResponse({"error": "sign in first"}, status_code=401)
    app = console_of(request).app

    def build() -> dict[str, Any]:
        with app.repository(readonly=True) as repo:
            result = program_status(app.settings, repo, app.clock.now())
        return result if viewer.is_coordinator else limit_status(result, viewer.pair_ids)

    return JSONResponse(await run_in_threadpool(build))

