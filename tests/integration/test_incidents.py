"""Incidents through a real daemon: every update is a message on the incident's route,
threaded after the first post (here: e-mail to a real aiosmtpd server, where the thread is
In-Reply-To/References), and the components' status follows the incident."""

from __future__ import annotations

import html
import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from failover.clock import FakeClock
from failover.incidents.model import MAX_BODY
from tests.harness import Harness, eventually, start_daemon, write_config
from tests.peers.smtp_server import Sink, smtp_server

COMPONENTS = """
[components.api]
name = "API"
group = "Platform"

[components.web]
name = "Website"

[incidents]
timer_interval = "100ms"
templates.resolved = "[Resolved] {title} is fixed: {body}"
"""


def mail_config(port: int) -> str:
    return (
        f"""
    [channels.mail]
    type = "email"
    host = "127.0.0.1"
    port = {port}
    security = "none"
    from_address = "status@example.com"
    recipients = ["customers@example.org"]
    timeout = 5

    [routes.default]
    tiers = [["mail"]]
    """
        + COMPONENTS
    )


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    s = Sink()
    with smtp_server(s) as port:
        yield s, port


@pytest.fixture
async def daemon(tmp_path: Path, sink: tuple[Sink, int]) -> AsyncIterator[Harness]:
    h = await start_daemon(write_config(tmp_path, mail_config(sink[1])))
    try:
        await eventually(lambda: _components_synced(h))
        yield h
    finally:
        await h.daemon.stop()


async def _components_synced(h: Harness) -> bool:
    return len(await h.daemon.store.list_components()) == 2


async def _status(h: Harness) -> dict[str, str]:
    status, body = await h.request("GET", "/api/v1/components", role="viewer")
    assert status == 200, body
    return {c["id"]: c["status"] for c in body["items"]}


async def _update(h: Harness, incident_id: int, **body: Any) -> dict[str, Any]:
    status, data = await h.request(
        "POST", f"/api/v1/incidents/{incident_id}/updates", role="publisher", json=body
    )
    assert status == 201, data
    return dict(data)


async def _delivered(h: Harness, incident: dict[str, Any]) -> None:
    message_id = incident["updates"][0]["message_id"]
    await h.wait_state(message_id, "delivered")


async def test_an_incident_from_open_to_resolved_is_one_thread(
    daemon: Harness, sink: tuple[Sink, int]
) -> None:
    h, mails = daemon, sink[0]
    status, opened = await h.request(
        "POST", "/api/v1/incidents", role="publisher",
        json={"title": "API errors", "body": "Some requests fail.", "impact": "major",
              "components": {"api": "partial_outage"}},
    )  # fmt: skip
    assert status == 201, opened
    iid = opened["id"]
    await _delivered(h, opened)
    assert await _status(h) == {"api": "partial_outage", "web": "operational"}
    await _delivered(h, await _update(h, iid, state="identified", body="A bad deploy.",
                                      components={"api": "major_outage", "web": "degraded_performance"}))  # fmt: skip
    assert await _status(h) == {"api": "major_outage", "web": "degraded_performance"}
    await _delivered(h, await _update(h, iid, state="monitoring", body="Rolled back."))
    done = await _update(h, iid, state="resolved", body="All good.")
    await _delivered(h, done)

    texts = [m.message.get_body(("plain",)).get_content().strip() for m in (r for r in mails.received)]  # type: ignore[union-attr]  # fmt: skip
    assert len(texts) == 4
    assert texts[0].startswith("[Investigating] API errors: Some requests fail.")
    assert texts[1].startswith("[Identified] API errors: A bad deploy.")
    assert texts[2].startswith("[Monitoring] API errors: Rolled back.")
    assert texts[3].startswith("[Resolved] API errors is fixed: All good.")  # config template
    msgs = [r.message for r in mails.received]
    first = msgs[0]["Message-ID"].strip()
    for earlier, later in itertools.pairwise(msgs):
        assert later["In-Reply-To"] == earlier["Message-ID"]
        assert later["References"].split()[0] == first  # every update hangs on the first post

    assert done["state"] == "resolved" and done["resolved_at"]
    assert [u["state"] for u in done["updates"]] == ["resolved", "monitoring", "identified", "investigating"]  # fmt: skip
    assert done["thread_message_id"] == done["updates"][-1]["message_id"]
    assert await _status(h) == {"api": "operational", "web": "operational"}
    history = await h.daemon.store.component_history(datetime(2000, 1, 1, tzinfo=UTC))
    api = [(c.status, c.source) for c in history if c.component_id == "api"]
    assert api == [
        ("operational", "config"),
        ("partial_outage", f"incident:{iid}"),
        ("major_outage", f"incident:{iid}"),
        ("operational", f"incident:{iid}"),
    ]


async def test_resolving_one_of_two_incidents_keeps_the_others_status(daemon: Harness) -> None:
    h = daemon
    ids = []
    for status in ("major_outage", "degraded_performance"):
        code, made = await h.request(
            "POST", "/api/v1/incidents", role="publisher",
            json={"title": status, "body": "b", "components": {"api": status}},
        )  # fmt: skip
        assert code == 201, made
        ids.append(made["id"])
    assert (await _status(h))["api"] == "major_outage"  # the worst of the two
    await _update(h, ids[0], state="resolved", body="one fixed")
    assert (await _status(h))["api"] == "degraded_performance"  # the other still holds it
    code, patched = await h.request(
        "PATCH", "/api/v1/components/web", role="operator", json={"status": "partial_outage"}
    )
    assert code == 200 and patched["status"] == "partial_outage"
    history = await h.daemon.store.component_history(datetime(2000, 1, 1, tzinfo=UTC))
    assert [c.source for c in history if c.component_id == "web"][-1] == "operator:test-operator"


BAD = [
    ("POST", "/api/v1/incidents", {"title": "x", "body": "y", "components": {"nope": "major_outage"}}, 422, "components.nope"),
    ("POST", "/api/v1/incidents", {"title": "x", "body": "y", "components": {"api": "broken"}}, 422, "components.api"),
    ("POST", "/api/v1/incidents", {"title": "x", "body": "y", "impact": "huge"}, 422, "impact"),
    ("POST", "/api/v1/incidents", {"title": "x", "body": "y", "state": "resolved"}, 422, "state"),
    ("POST", "/api/v1/incidents", {"title": "x", "body": "y", "route": "nowhere"}, 422, "route"),
    ("POST", "/api/v1/incidents", {"body": "y"}, 422, "title"),
    ("POST", "/api/v1/incidents", ["not", "an", "object"], 422, "body"),
    ("POST", "/api/v1/incidents/999/updates", {"state": "identified", "body": "b"}, 404, None),
    ("POST", "/api/v1/maintenances", {"title": "x", "body": "y", "scheduled_for": "2030-01-01T10:00:00Z", "scheduled_until": "2030-01-01T09:00:00Z"}, 422, "scheduled_until"),
    ("POST", "/api/v1/maintenances", {"title": "x", "body": "y", "scheduled_for": "2030-01-01T10:00:00", "scheduled_until": "2030-01-01T11:00:00Z"}, 422, "scheduled_for"),
    ("PATCH", "/api/v1/components/nope", {"status": "major_outage"}, 404, None),
    ("PATCH", "/api/v1/components/api", {"status": "on_fire"}, 422, "status"),
    ("POST", "/api/v1/components", {"id": "API!", "name": "x"}, 422, "id"),
    ("POST", "/api/v1/components", {"id": "api", "name": "again"}, 409, None),
    ("GET", "/api/v1/incidents?kind=outage", None, 422, "kind"),
    ("GET", "/api/v1/incidents?active=maybe", None, 422, "active"),
    ("GET", "/api/v1/incidents?before=-1", None, 422, "before"),
]  # fmt: skip


async def test_bad_input_gets_a_4xx_naming_what_is_wrong(daemon: Harness) -> None:
    h = daemon
    for method, path, body, want, field in BAD:
        status, data = await h.request(method, path, role="admin", json=body)
        assert status == want, (path, body, data)
        if field is not None:
            assert data["field"] == field, (path, body, data)
    code, made = await h.request(
        "POST", "/api/v1/incidents", role="publisher", json={"title": "t", "body": "b"}
    )
    assert code == 201
    iid = made["id"]
    code, data = await h.request("POST", f"/api/v1/incidents/{iid}/updates", json={"state": "in_progress", "body": "b"})  # fmt: skip
    assert (code, data["field"]) == (422, "state") and "investigating" in data["detail"]
    await _update(h, iid, state="resolved", body="done")
    code, data = await h.request("POST", f"/api/v1/incidents/{iid}/updates", json={"state": "monitoring", "body": "b"})  # fmt: skip
    assert code == 409 and "resolved" in data["detail"]
    code, data = await h.request("POST", f"/api/v1/incidents/{iid}/publish")
    assert code == 409 and "not a draft" in data["detail"]
    assert (await h.request("POST", "/api/v1/incidents", role="viewer", json={"title": "t", "body": "b"}))[0] == 403  # fmt: skip
    assert (await h.request("GET", "/api/v1/incidents", role=None))[0] == 401
    code, listed = await h.request("GET", "/api/v1/incidents?active=false", role="viewer")
    assert code == 200 and [i["id"] for i in listed["items"]] == [iid]


async def test_the_largest_update_is_posted_shown_and_one_more_character_is_refused(
    daemon: Harness, sink: tuple[Sink, int]
) -> None:
    """An incident at every limit: a 300-character title, a 10,000-character body of emoji and
    CJK, an update as long: each goes out by mail and stands whole on the public page, its
    JSON and feed; one character more is a 422 naming the field, and nothing is posted."""
    h, mails = daemon, sink[0]
    title = ("Störung 🚨 " * 40)[:299] + "!"  # no space at either end: those are trimmed
    body = ("我们暂时无法连接到平台。👩\u200d👩\u200d👧 " * MAX_BODY)[: MAX_BODY - 1] + "。"
    code, opened = await h.request(
        "POST", "/api/v1/incidents", role="publisher",
        json={"title": title, "body": body, "impact": "critical", "components": {"api": "major_outage"}},
    )  # fmt: skip
    assert code == 201, opened
    await _delivered(h, opened)
    update = body[::-1]  # as long, and not the same text
    await _delivered(h, await _update(h, opened["id"], state="identified", body=update))
    texts = [r.message.get_body(("plain",)).get_content() for r in mails.received]  # type: ignore[union-attr]
    assert body in texts[0] and update in texts[1]
    for path in ("/status/", f"/status/incidents/{opened['id']}", "/status/feed.atom"):
        async with aiohttp.ClientSession() as s, s.get(h.url + path) as r:
            assert r.status == 200, path
            page = html.unescape(await r.text())
        assert update in page and title in page, path
    for too_long in ({"title": title + "x", "body": "b"}, {"title": "t", "body": body + "x"}):
        code, data = await h.request("POST", "/api/v1/incidents", role="publisher", json=too_long)
        field = "title" if len(too_long["title"]) > 300 else "body"
        assert (code, data["field"]) == (422, field), data
    code, data = await h.request(
        "POST", f"/api/v1/incidents/{opened['id']}/updates", role="publisher",
        json={"state": "monitoring", "body": body + "x"},
    )  # fmt: skip
    assert (code, data["field"]) == (422, "body"), data
    assert len(mails.received) == 2  # nothing refused was posted


T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)  # the wall would stand out


async def test_maintenance_reminds_starts_and_completes_on_the_injected_clock(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    clock = FakeClock(T0)
    h = await start_daemon(write_config(tmp_path, mail_config(sink[1])), clock=clock)
    try:
        await eventually(lambda: _components_synced(h))
        start, end = T0 + timedelta(hours=2), T0 + timedelta(hours=3)
        code, m = await h.request(
            "POST", "/api/v1/maintenances", role="publisher",
            json={"title": "DB upgrade", "body": "Writes pause briefly.", "components": ["api"],
                  "scheduled_for": start.isoformat(), "scheduled_until": end.isoformat(),
                  "remind_before": "1h", "auto_start": True, "auto_complete": True},
        )  # fmt: skip
        assert code == 201, m
        assert m["kind"] == "maintenance" and m["impact"] == "maintenance"
        assert m["components"] == {"api": "under_maintenance"}
        assert (await _status(h))["api"] == "operational"  # scheduled holds nothing yet

        async def states() -> list[str]:
            got = await h.daemon.store.get_incident(m["id"])
            assert got is not None
            return [u.state + (":reminder" if "starts at" in u.body else "") for u in got.updates]

        await h.wait_state(m["updates"][0]["message_id"], "delivered")
        clock.advance(3600 + 60)  # within the hour before the start
        await _reached(h, m["id"], states, "scheduled:reminder")
        clock.advance(3600)  # past the start
        await _reached(h, m["id"], states, "in_progress")
        assert (await _status(h))["api"] == "under_maintenance"
        clock.advance(3600)  # past the end
        await _reached(h, m["id"], states, "completed")
        assert (await _status(h))["api"] == "operational"
        assert await states() == ["completed", "in_progress", "scheduled:reminder", "scheduled"]
        done = await h.daemon.store.get_incident(m["id"])
        assert done is not None and done.started_at is not None and done.started_at >= start
        assert all(u.message_id is not None for u in done.updates)
        subjects = [r.message.get_body(("plain",)).get_content() for r in sink[0].received]  # type: ignore[union-attr]
        assert [s.split("]")[0] + "]" for s in subjects] == [
            "[Scheduled]", "[Reminder]", "[In progress]", "[Completed]",
        ]  # fmt: skip
    finally:
        await h.daemon.stop()


async def _reached(h: Harness, mid: int, states: Any, wanted: str) -> None:
    """Wait for the timer to post ``wanted``, then for that post to be delivered (the fake
    clock must not move on while a post is queued, or the post would be found late)."""

    async def has() -> bool:
        return wanted in await states()

    await eventually(has)
    got = await h.daemon.store.get_incident(mid)
    assert got is not None and got.updates[0].message_id is not None
    await h.wait_state(got.updates[0].message_id, "delivered")
