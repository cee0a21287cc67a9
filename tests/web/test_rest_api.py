"""The REST API beyond the core: edit, preview, tokens, the OpenAPI file, auth throttling."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib.resources import files

import aiohttp

from failover.api.openapi_spec import build
from tests.harness import Harness


async def test_the_shipped_openapi_file_is_served_and_matches_the_code(web: Harness) -> None:
    shipped = json.loads(files("failover.api").joinpath("openapi.json").read_text())
    assert shipped == json.loads(json.dumps(build())), (
        "regenerate: python -m failover.api.openapi_spec > failover/api/openapi.json"
    )
    status, served = await web.request("GET", "/api/v1/openapi.json", role=None)
    assert status == 200 and served == shipped
    assert served["openapi"] == "3.1.0"
    # Every route the app answers under /api/v1 is described.
    app_paths = {
        r.resource.canonical.replace("{id:\\d+}", "{id}")  # type: ignore[union-attr]
        for r in web.daemon._runner.app.router.routes()  # type: ignore[union-attr]
        if r.resource is not None and r.resource.canonical.startswith("/api/v1")
    }
    assert app_paths == {p for p in served["paths"] if p.startswith("/api/v1")}


async def test_edit_a_scheduled_message_then_not_once_it_started(web: Harness) -> None:
    later = datetime.now(UTC) + timedelta(hours=2)
    m = await web.post(text="draft", scheduled_at=later.isoformat(), route="fediverse")
    sooner = datetime.now(UTC) + timedelta(hours=1)
    status, edited = await web.request(
        "PATCH", f"/api/v1/messages/{m['id']}", role="publisher",
        json={"text": "final wording", "scheduled_at": sooner.isoformat(), "title": "Update"},
    )  # fmt: skip
    assert status == 200, edited
    assert edited["text"] == "final wording" and edited["title"] == "Update"
    assert edited["scheduled_at"].startswith(sooner.strftime("%Y-%m-%dT%H:%M"))
    due = {d["next_attempt_at"][:16] for d in edited["deliveries"]}
    assert due == {sooner.strftime("%Y-%m-%dT%H:%M")}  # the deliveries moved too

    status, problem = await web.request(
        "PATCH", f"/api/v1/messages/{m['id']}", role="publisher", json={"route": "default"}
    )
    assert status == 422 and problem["field"] == "route"
    assert "cancel the message" in problem["detail"]

    # Sent now: too late to edit.
    status, _ = await web.request(
        "PATCH", f"/api/v1/messages/{m['id']}", role="publisher",
        json={"scheduled_at": datetime.now(UTC).isoformat()},
    )  # fmt: skip
    assert status == 200
    await web.wait_state(m["id"], "delivered")
    status, problem = await web.request(
        "PATCH", f"/api/v1/messages/{m['id']}", role="publisher", json={"text": "too late"}
    )
    assert status == 409 and "sending has started" in problem["detail"]
    assert (await web.message(m["id"]))["text"] == "final wording"  # nothing lost


async def test_preview_shows_each_channel_fitted_by_its_rule(web: Harness) -> None:
    long = " ".join(f"word{i}" for i in range(150))  # ~1,000 characters
    status, body = await web.request(
        "POST", "/api/v1/preview", role="viewer", json={"text": long, "route": "default"}
    )
    assert status == 200, body
    by = {c["channel"]: c for c in body["channels"]}
    assert set(by) == {"hook", "masto", "status"}
    assert by["masto"]["limit"] == 500 and by["masto"]["length"] == len(long)
    assert by["masto"]["verdict"] == f"thread of {len(by['masto']['posts'])} posts"
    assert all(p["length"] <= 500 for p in by["masto"]["posts"])
    assert by["hook"]["verdict"] == "fits" and by["hook"]["tier"] == 0
    status, problem = await web.request(
        "POST", "/api/v1/preview", role="viewer", json={"text": "x", "route": "nope"}
    )
    assert status == 422 and problem["field"] == "route"


async def test_tokens_admin_create_list_revoke(web: Harness) -> None:
    status, created = await web.request(
        "POST", "/api/v1/tokens", role="admin", json={"name": "support desk", "role": "publisher"}
    )
    assert status == 201 and created["token"].startswith("fo_")
    secret = created.pop("token")
    status, listed = await web.request("GET", "/api/v1/tokens", role="admin")
    assert created in listed["items"]
    assert secret not in json.dumps(listed) and "hash" not in json.dumps(listed)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {secret}"}) as s:
        async with s.get(web.url + "/api/v1/messages") as r:
            assert r.status == 200
        status, _ = await web.request("DELETE", f"/api/v1/tokens/{created['id']}", role="admin")
        assert status == 204
        async with s.get(web.url + "/api/v1/messages") as r:
            assert r.status == 401
    status, _ = await web.request("GET", "/api/v1/tokens", role="operator")
    assert status == 403
    status, problem = await web.request(
        "POST", "/api/v1/tokens", role="admin", json={"name": "x", "role": "king"}
    )
    assert status == 422 and problem["field"] == "role"


async def test_repeated_failed_authentications_are_slowed_down(web: Harness) -> None:
    async with aiohttp.ClientSession() as s:
        statuses = []
        for i in range(7):
            async with s.get(
                web.url + "/api/v1/status", headers={"Authorization": f"Bearer fo_wrong{i}"}
            ) as r:
                statuses.append(r.status)
                retry_after = r.headers.get("Retry-After")
        assert statuses[:5] == [401] * 5
        assert statuses[5:] == [429, 429] and retry_after is not None and int(retry_after) >= 1
        # Others' failures never refuse a good token from that address (see test_security.py).
        async with s.get(
            web.url + "/api/v1/status",
            headers={"Authorization": f"Bearer {web.tokens['viewer']}"},
        ) as r:
            assert r.status == 200
