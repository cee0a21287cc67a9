"""The public status page rendered from the store: incidents, components, maintenance,
history and permalinks in HTML; the Statuspage JSON and the feeds; ETag and 304; clear 4xx
for bad input; and the daemon's own statuspage probe reading its own page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from failover.model import Health
from failover.store.status import NewIncident, NewUpdate
from tests.harness import Harness, eventually, free_port, start_daemon, write_config
from tests.peers.webhook_receiver import WebhookReceiver
from tests.status_seed import (
    ACTIVE_TITLE,
    MAINTENANCE_TITLE,
    RESOLVED_TITLE,
    open_incident,
    seed_demo,
)

FEED = '[channels.status]\ntype = "feed"\ntitle = "Acme status"\n\n[routes.default]\ntiers = [["status"]]\n'
V2 = ["summary", "status", "components", "incidents", "incidents/unresolved",
      "scheduled-maintenances", "scheduled-maintenances/upcoming",
      "scheduled-maintenances/active"]  # fmt: skip


async def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    async with aiohttp.ClientSession() as s, s.get(url, headers=headers or {}) as r:
        return r.status, r.headers, await r.read()


@pytest.fixture
async def page(tmp_path: Path) -> Any:
    h = await start_daemon(write_config(tmp_path, FEED))
    yield h
    await h.daemon.stop()


async def test_the_page_shows_what_the_store_holds(page: Harness) -> None:
    seeded = await seed_demo(page.daemon.store, page.daemon.clock.now())
    status, headers, body = await fetch(page.url + "/status/")
    html = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "Partial System Outage" in html
    assert ACTIVE_TITLE in html and "A bad deploy; we are rolling it back." in html
    assert MAINTENANCE_TITLE in html and "Upcoming maintenance" in html
    assert RESOLVED_TITLE not in html  # the past is on the history page
    assert html.count('<span class="b-') == 3 * 90
    assert "No announcements yet." in html  # the posts keep their place

    status, _, body = await fetch(page.url + f"/status/incidents/{seeded.resolved}")
    assert status == 200 and "Checkout is fast again." in body.decode()
    status, _, body = await fetch(page.url + "/status/history")
    assert status == 200 and RESOLVED_TITLE in body.decode() and ACTIVE_TITLE not in body.decode()


async def test_statuspage_json_and_feeds_come_from_the_store(page: Harness) -> None:
    seeded = await seed_demo(page.daemon.store, page.daemon.clock.now())
    docs = {}
    for name in V2:
        status, headers, body = await fetch(page.url + f"/status/api/v2/{name}.json")
        assert status == 200 and headers["Content-Type"].startswith("application/json"), name
        docs[name] = json.loads(body)
    assert docs["status"]["status"] == {
        "indicator": "major",
        "description": "Partial System Outage",
    }
    assert [i["id"] for i in docs["incidents/unresolved"]["incidents"]] == [str(seeded.active)]
    assert {i["id"] for i in docs["incidents"]["incidents"]} == {
        str(seeded.active),
        str(seeded.resolved),
    }
    upcoming = docs["scheduled-maintenances/upcoming"]["scheduled_maintenances"]
    assert [m["name"] for m in upcoming] == [MAINTENANCE_TITLE]
    assert docs["scheduled-maintenances/active"]["scheduled_maintenances"] == []
    api = next(c for c in docs["components"]["components"] if c["id"] == "api")
    assert api["status"] == "partial_outage"

    items = json.loads((await fetch(page.url + "/status/feed.json"))[2])["items"]
    titles = [i["title"] for i in items]
    assert f"[Identified] {ACTIVE_TITLE}" in titles and f"[Resolved] {RESOLVED_TITLE}" in titles
    status, headers, atom = await fetch(page.url + "/status/feed.atom")
    assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
    assert f"[Investigating] {ACTIVE_TITLE}".encode() in atom


async def test_every_status_response_has_an_etag_and_answers_304(page: Harness) -> None:
    seeded = await seed_demo(page.daemon.store, page.daemon.clock.now())
    paths = ["/status/", "/status/history", f"/status/incidents/{seeded.active}",
             "/status/feed.atom", "/status/feed.json", "/status/state.json",
             *(f"/status/api/v2/{n}.json" for n in V2)]  # fmt: skip
    tags = {}
    for path in paths:
        status, headers, _ = await fetch(page.url + path)
        assert status == 200 and headers["ETag"].startswith('"'), path
        assert "max-age" in headers["Cache-Control"], path
        status, again, body = await fetch(page.url + path, {"If-None-Match": headers["ETag"]})
        assert status == 304 and body == b"" and again["ETag"] == headers["ETag"], path
        tags[path] = headers["ETag"]
    # A new update changes the bytes, so the tag: a cache never keeps a stale incident.
    await page.daemon.store.add_incident_update(
        seeded.active, NewUpdate("monitoring", "Rolled back.", "alice"), page.daemon.clock.now()
    )

    async def changed() -> bool:  # within the render cache's few seconds
        status, headers, _ = await fetch(page.url + "/status/", {"If-None-Match": tags["/status/"]})
        return status == 200 and headers["ETag"] != tags["/status/"]

    await eventually(changed)


@pytest.mark.parametrize(
    ("path", "status", "names"),
    [
        ("/status/history?page=0", 400, "page"),
        ("/status/history?page=abc", 400, "page"),
        ("/status/history?page=100000", 400, "page"),
        ("/status/history?page=7", 404, "page 7"),
        ("/status/incidents/abc", 400, "incident id"),
        ("/status/incidents/99999", 404, "99999"),
        ("/status/api/v2/nothing.json", 404, ""),
    ],
)
async def test_bad_input_gets_a_4xx_that_names_it(
    page: Harness, path: str, status: int, names: str
) -> None:
    got, _, body = await fetch(page.url + path)
    assert got == status and names.encode() in body


async def test_a_draft_incident_is_not_public(page: Harness) -> None:
    draft = await page.daemon.store.create_incident(
        NewIncident("incident", "Probe says api is down", "major", "investigating", "default",
                    "probe", draft=True),
        page.daemon.clock.now(),
    )  # fmt: skip
    assert (await fetch(page.url + f"/status/incidents/{draft.id}"))[0] == 404
    assert b"Probe says" not in (await fetch(page.url + "/status/api/v2/incidents.json"))[2]


async def test_the_daemons_own_statuspage_probe_reads_its_own_page(tmp_path: Path) -> None:
    """A channel watched through this very page: a minor incident degrades it, a critical
    one takes it down."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/status/"  # the probe adds api/v2/status.json
    async with WebhookReceiver() as hook:
        body = f"""
        [channels.hook]
        type = "webhook"
        url = "{hook.server.url}/hook"

        [channels.hook.health]
        down_after = 2
        probes = [{{kind = "statuspage", url = "{url}", interval = "200ms", timeout = "1s"}}]

        {FEED}"""
        h = await start_daemon(write_config(tmp_path, body, port=port))
        store, now = h.daemon.store, h.daemon.clock.now

        def health() -> Health:
            return h.daemon.states["hook"].effective

        try:
            await eventually(lambda: health() is Health.UP)
            await open_incident(store, "Slow dashboard", "minor", {}, now())
            await eventually(lambda: health() is Health.DEGRADED)
            await open_incident(store, "Nothing loads", "critical", {}, now())
            await eventually(lambda: health() is Health.DOWN)
        finally:
            await h.daemon.stop()


async def test_static_copies_are_the_same_page_as_files(tmp_path: Path) -> None:
    copy = '[status_page]\nstatic_dir = "public-copy"\nstatic_every = "200ms"\n\n'
    h = await start_daemon(write_config(tmp_path, copy + FEED))
    try:
        seeded = await seed_demo(h.daemon.store, h.daemon.clock.now())
        root = tmp_path / "public-copy"
        incident = root / "incidents" / f"{seeded.active}.html"
        resolved = root / "incidents" / f"{seeded.resolved}.html"  # written after the active one
        await eventually(lambda: incident.exists() and b"A bad deploy" in incident.read_bytes()
                         and resolved.exists())  # fmt: skip
        index = (root / "index.html").read_text()
        assert ACTIVE_TITLE in index and f'href="./incidents/{seeded.active}.html"' in index
        assert (
            'href="./history.html"' in index
            and RESOLVED_TITLE in (root / "history.html").read_text()
        )
        assert b"Checkout is fast again." in resolved.read_bytes()
        files = [f"api/v2/{name}.json" for name in V2] + ["feed.atom", "feed.json"]

        async def same_as_served() -> bool:  # byte for byte, once both show the last write
            for rel in files:
                served = (await fetch(h.url + "/status/" + rel))[2]
                if (root / rel).read_bytes() != served:
                    return False
            return True

        await eventually(same_as_served)
    finally:
        await h.daemon.stop()


async def test_an_incident_opened_through_the_api_reaches_the_page_once(tmp_path: Path) -> None:
    """Its updates are messages on a route with the feed channel: on the page they are the
    incident's timeline and one feed item each, never a second time as announcements."""
    components = '[components.api]\nname = "Public API"\n\n'
    h = await start_daemon(write_config(tmp_path, components + FEED))
    try:
        status, opened = await h.request("POST", "/api/v1/incidents", role="publisher", json={
            "title": "Login failures", "body": "Some logins fail.", "impact": "major",
            "components": {"api": "major_outage"},
        })  # fmt: skip
        assert status == 201, opened
        incident_id = opened["id"]
        status, _ = await h.request(
            "POST", f"/api/v1/incidents/{incident_id}/updates", role="publisher",
            json={"state": "identified", "body": "An expired certificate."},
        )  # fmt: skip
        assert status in (200, 201)

        async def both_posted() -> bool:
            incident = await h.daemon.store.get_incident(incident_id)
            return incident is not None and all(u.message_id for u in incident.updates)

        await eventually(both_posted)
        incident = await h.daemon.store.get_incident(incident_id)
        assert incident is not None and len(incident.updates) == 2
        for update in incident.updates:
            assert update.message_id is not None
            await h.wait_state(update.message_id, "delivered")
        html = (await fetch(h.url + "/status/"))[2].decode()
        assert "Major System Outage" in html and "An expired certificate." in html
        assert "No announcements yet." in html  # the updates are not announcements too
        items = json.loads((await fetch(h.url + "/status/feed.json"))[2])["items"]
        assert [i["title"] for i in items] == ["[Identified] Login failures",
                                               "[Investigating] Login failures"]  # fmt: skip
        summary = json.loads((await fetch(h.url + "/status/api/v2/summary.json"))[2])
        assert summary["status"]["indicator"] == "critical"
        assert summary["incidents"][0]["components"][0]["status"] == "major_outage"
    finally:
        await h.daemon.stop()
