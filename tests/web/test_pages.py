"""Every page answers a signed-in coordinator, and a liaison sees only their own pairs."""

from __future__ import annotations

import httpx
import pytest
from webconsole import Console

PAGES = ["/", "/pairs/P1", "/pairs/P3", "/escalations", "/plan", "/templates",
         "/templates/topic", "/templates/layout", "/templates/topic/history", "/roster",
         "/report", "/export/events.csv", "/export/escalations.csv", "/export/outbox.csv",
         "/api/status"]


@pytest.mark.parametrize("path", PAGES)
def test_a_coordinator_sees_every_page(coordinator: httpx.Client, path: str) -> None:
    response = coordinator.get(path)
    assert response.status_code == 200, response.text[:2000]
    if path.startswith("/pairs/"):
        assert path.rsplit("/", 1)[1] in response.text


def test_signed_out_pages_go_to_the_sign_in(console: Console) -> None:
    with console.client() as client:
        for path in ("/", "/pairs/P1", "/templates", "/escalations"):
            response = client.get(path)
            assert response.status_code == 303 and response.headers["location"] == "/login"
        assert client.get("/api/status").status_code == 401


def test_the_dashboard_lists_a_liaisons_own_pairs_only(liaison_a: httpx.Client) -> None:
    page = liaison_a.get("/")
    status = liaison_a.get("/api/status").json()
    assert page.status_code == 200
    assert 'href="/pairs/P1"' in page.text and 'href="/pairs/P2"' in page.text
    assert "/pairs/P3" not in page.text and "omar" not in page.text
    assert sorted(r["pair_id"] for r in status["pairs"]) == ["P1", "P2"]
    assert status["counts"]["pairs"] == 2


def test_api_status_is_status_json_for_a_coordinator(console: Console,
                                                    coordinator: httpx.Client) -> None:
    import json

    from mailflow.services.status import program_status

    app = console.program.app()
    with app.repository(readonly=True) as repo:
        expected = program_status(app.settings, repo, console.clock.now())
    assert coordinator.get("/api/status").json() == json.loads(json.dumps(expected, default=str))
