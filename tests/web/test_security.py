"""No page or endpoint reveals a secret or a token hash; every state-changing endpoint refuses
a missing or weak role, and every state-changing page a missing CSRF token."""

from __future__ import annotations

import hashlib
import re

import aiohttp

from tests.harness import Harness
from tests.peers.mastodon_api import TOKEN as MASTO_TOKEN
from tests.web.conftest import HOOK_SECRET
from tests.web.web_session import login

# Every state-changing API endpoint, the role it needs, and a valid body.
API_CHANGES = [
    ("POST", "/api/v1/messages", "publisher", {"text": "hello"}),
    ("PATCH", "/api/v1/messages/{id}", "publisher", {"text": "edited"}),
    ("POST", "/api/v1/messages/{id}/cancel", "publisher", None),
    ("POST", "/api/v1/channels/hook/force", "operator", {"state": "down"}),
    ("POST", "/api/v1/tokens", "admin", {"name": "n", "role": "viewer"}),
    ("DELETE", "/api/v1/tokens/{token}", "admin", None),
]
WEAKER = {"publisher": "viewer", "operator": "publisher", "admin": "operator"}
# Every state-changing page and the role it needs.
UI_CHANGES = {
    "/ui/compose": "publisher",
    "/ui/preview": "publisher",
    "/ui/messages/{id}/cancel": "publisher",
    "/ui/messages/{id}/edit": "publisher",
    "/ui/channels/hook/force": "operator",
    "/ui/tokens": "admin",
    "/ui/tokens/{token}/revoke": "admin",
    "/ui/logout": "viewer",
    "/ui/fediverse/requests": "operator",
    "/ui/messages/{id}/fediverse-update": "publisher",
    "/ui/messages/{id}/fediverse-delete": "publisher",
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
    assert api == {path.replace("{token}", "{id}") for _, path, _, _ in API_CHANGES} | {
        "/api/v1/preview"  # reads only; needs a token like every API call
    }
    ui = {p.replace("{name}", "hook").replace("/tokens/{id}", "/tokens/{token}")
          for p in _post_routes(web, "/ui/")}  # fmt: skip
    assert ui == set(UI_CHANGES) | {"/ui/login"}


async def test_api_changes_refuse_a_missing_or_weak_role(web: Harness) -> None:
    m = await web.post(text="scheduled", scheduled_at="2099-01-01T00:00:00Z")
    _, token = await web.request("POST", "/api/v1/tokens", json={"name": "t", "role": "viewer"})
    async with aiohttp.ClientSession() as s:
        for method, path, role, body in API_CHANGES:
            url = web.url + path.format(id=m["id"], token=token["id"])
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
            url = web.url + path.format(id=m["id"], token=token["id"])
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
