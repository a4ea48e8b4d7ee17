"""The web figure: the console's dashboard and a pair page, each a ratio to building the
`mailflow status --json` output from the same store in the same process.

A page is fetched the whole way the console serves it, in process (httpx's ASGI
transport, no socket): the session check, reading the store, the pair rows, the page's
HTML. The reference is what `mailflow status --json` does: open the store, derive every
pair's state, ``json.dumps``. Each is timed ROUNDS times, alternating, and the best of
each is kept (the least disturbed by the other sessions on the machine).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from mailflow.app import App
from mailflow.clock import FixedClock

ROUNDS = 3
_ROW = re.compile(r'<th scope="row"><a href="/pairs/')


def _best(timings: list[float]) -> float:
    return min(timings)


def web(args: dict[str, Any]) -> dict[str, Any]:
    from mailflow.services.status import program_status
    from mailflow.web.app import build
    from mailflow.web.guard import COOKIE

    app = App.load(Path(args["config"]), FixedClock(datetime.fromisoformat(args["now"])))
    now = app.clock.now()
    asgi = build(app)
    coordinator = app.settings.program.coordinators[0]
    session = asgi.state.console.auth.open_session(coordinator, now, 12)

    def status_json() -> str:
        with app.repository(readonly=True) as repo:
            return json.dumps(program_status(app.settings, repo, now), indent=2)

    pairs = json.loads(status_json())["pairs"]
    pair_id = pairs[len(pairs) // 2]["pair_id"]
    sizes: dict[str, int] = {}
    rows: list[int] = []

    async def fetch(client: httpx.AsyncClient, path: str, name: str) -> None:
        response = await client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code}\n{response.text[:2000]}")
        sizes[name] = len(response.content)
        if name == "dashboard":
            rows.append(len(_ROW.findall(response.text)))

    async def measure() -> dict[str, list[float]]:
        timings: dict[str, list[float]] = {"status": [], "dashboard": [], "pair": []}
        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://console.test",
                                     cookies={COOKIE: session}) as client:
            jobs: list[tuple[str, Callable[[], Any]]] = [
                ("status", lambda: asyncio.to_thread(status_json)),
                ("dashboard", lambda: fetch(client, "/", "dashboard")),
                ("pair", lambda: fetch(client, f"/pairs/{pair_id}", "pair")),
            ]
            for _ in range(ROUNDS):
                for name, job in jobs:
                    started = time.perf_counter()
                    await job()
                    timings[name].append(time.perf_counter() - started)
        return timings

    timings = asyncio.run(measure())
    status_s = _best(timings["status"])
    return {
        "seconds": status_s, "count": len(pairs),
        "status_s": status_s, "dashboard_s": _best(timings["dashboard"]),
        "pair_s": _best(timings["pair"]),
        "dashboard_bytes": sizes["dashboard"], "dashboard_rows": max(rows),
        "pair_bytes": sizes["pair"], "status_bytes": len(status_json()),
    }
