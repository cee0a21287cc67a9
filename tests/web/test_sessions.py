"""Web sessions live in the store: a random secret in the cookie, only its hash stored, an
expiry the server sets. A copy of the store and the state directory opens nothing; logout
and an admin end sessions; every daemon sharing the store agrees."""

from __future__ import annotations

import hashlib
import hmac
import re
import sqlite3
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest
from yarl import URL

from failover.clock import FakeClock
from failover.web.session import COOKIE, LIFETIME
from tests.harness import Harness, start_daemon, write_config
from tests.peers.postgres_db import throwaway_database
from tests.web.web_session import login

CONFIG = """
[channels.status]
type = "feed"

[routes.default]
tiers = [["status"]]
"""


def _config(tmp_path: Path, dsn: str | None) -> Path:
    tmp_path.mkdir(exist_ok=True)
    path = write_config(tmp_path, CONFIG)
    if dsn is not None:
        path.write_text(f'store = "{dsn}"\n' + path.read_text())
    return path


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    with throwaway_database() as dsn:
        yield dsn


def _cookie(s: aiohttp.ClientSession, url: str) -> str:
    return s.cookie_jar.filter_cookies(URL(url))[COOKIE].value


async def _ui_status(url: str, cookie: str) -> int:
    async with (
        aiohttp.ClientSession(cookies={COOKIE: cookie}) as s,
        s.get(url + "/ui/", allow_redirects=False) as r,
    ):
        return r.status


async def _api_status(url: str, bearer: str) -> int:
    async with (
        aiohttp.ClientSession() as s,
        s.get(url + "/api/v1/status", headers={"Authorization": f"Bearer {bearer}"}) as r,
    ):
        return r.status


def _store_rows(h: Harness, dsn: str | None) -> list[dict[str, Any]]:
    """Every row of every table, read behind the daemon's back (a backup, a replica)."""
    if dsn is None:
        with sqlite3.connect(h.daemon.config.database_path) as db:
            db.row_factory = sqlite3.Row
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            return [dict(r) for t in tables for r in db.execute(f'SELECT * FROM "{t}"')]
    with psycopg.connect(dsn) as db:
        tables = [r[0] for r in db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]  # fmt: skip
        rows = []
        for t in tables:
            cur = db.execute(f'SELECT * FROM "{t}"')
            names = [c.name for c in cur.description or []]
            rows += [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        return rows


async def test_the_store_and_state_dir_authenticate_nothing(
    tmp_path: Path, backend: str | None
) -> None:
    h = await start_daemon(_config(tmp_path, backend))
    try:
        await h.post(text="a message, so the store is not empty")
        admin, _ = await login(h.url, h.tokens["admin"])
        viewer, _ = await login(h.url, h.tokens["viewer"])
        live = [_cookie(admin, h.url), _cookie(viewer, h.url)]
        await admin.close()
        await viewer.close()

        rows = _store_rows(h, backend)
        assert any("expires_at" in r and "hash" in r for r in rows)  # the sessions were read
        values = {str(v) for r in rows for v in r.values() if v is not None}
        for path in h.daemon.config.state_dir.rglob("*"):  # every run of text in every file
            if path.is_file():
                values |= {m.decode() for m in re.findall(rb"[!-~]{8,}", path.read_bytes())}
        # What the old signed cookies were made of: "<token id>.<expiry>.<HMAC by the hash>".
        tokens = [r for r in rows if "role" in r and "hash" in r]
        for t in tokens:
            payload = f"{t['id']}.4102444800"
            mac = hmac.new(t["hash"].encode(), f"session.{payload}".encode(), hashlib.sha256)
            values.add(f"{payload}.{mac.hexdigest()}")
        assert not any(secret in v for v in values for secret in [*live, *h.tokens.values()])

        opened = []
        for value in sorted(values):
            if await _api_status(h.url, value) == 200:
                opened.append(("API", value[:12]))
            if await _ui_status(h.url, value) != 303:
                opened.append(("UI", value[:12]))
        assert opened == []
        assert len(values) > 50  # the check above really tried the store's contents
        # The real secrets still work: the check could have failed.
        assert [await _ui_status(h.url, c) for c in live] == [200, 200]
        assert await _api_status(h.url, h.tokens["viewer"]) == 200
    finally:
        await h.daemon.stop()


async def test_the_server_sets_the_expiry_and_the_client_cannot_extend_it(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    h = await start_daemon(_config(tmp_path, None), clock=clock)
    try:
        s, _ = await login(h.url, h.tokens["viewer"])
        cookie = _cookie(s, h.url)
        await s.close()
        _, listed = await h.request("GET", "/api/v1/sessions")
        (session,) = listed["items"]
        assert session["token_name"] == "test-viewer" and cookie not in str(listed)
        clock.advance(LIFETIME - 60)
        assert await _ui_status(h.url, cookie) == 200
        clock.advance(120)  # past the server's expiry: the cookie's own Max-Age is irrelevant
        assert await _ui_status(h.url, cookie) == 303
        _, listed = await h.request("GET", "/api/v1/sessions")
        assert listed["items"] == []
    finally:
        await h.daemon.stop()


async def test_login_sets_a_cookie_as_long_as_the_session(tmp_path: Path) -> None:
    h = await start_daemon(_config(tmp_path, None))
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            async with s.get(h.url + "/ui/login") as r:
                nonce = re.search(r'name="nonce" value="([^"]+)"', await r.text())
            assert nonce
            async with s.post(h.url + "/ui/login", allow_redirects=False,
                              data={"nonce": nonce[1], "token": h.tokens["viewer"]}) as r:  # fmt: skip
                jar = SimpleCookie()
                for header in r.headers.getall("Set-Cookie"):
                    jar.load(header)
        cookie = jar[COOKIE]
        assert cookie["max-age"] == str(LIFETIME) and cookie["httponly"]
        assert len(cookie.value) >= 43  # 256 random bits, base64url
    finally:
        await h.daemon.stop()


async def test_logout_deletes_the_session(tmp_path: Path) -> None:
    h = await start_daemon(_config(tmp_path, None))
    try:
        s, csrf = await login(h.url, h.tokens["viewer"])
        cookie = _cookie(s, h.url)
        async with s, s.post(h.url + "/ui/logout", data={"csrf": csrf}) as r:
            assert r.url.path == "/ui/login"
        assert await _ui_status(h.url, cookie) == 303  # a copy kept by the browser is dead
        assert (await h.request("GET", "/api/v1/sessions"))[1]["items"] == []
    finally:
        await h.daemon.stop()


async def test_an_admin_lists_sessions_and_ends_them_one_by_one(tmp_path: Path) -> None:
    h = await start_daemon(_config(tmp_path, None))
    try:
        first, _ = await login(h.url, h.tokens["viewer"])
        second, _ = await login(h.url, h.tokens["viewer"])
        cookies = [_cookie(first, h.url), _cookie(second, h.url)]
        await first.close()
        await second.close()
        status, listed = await h.request("GET", "/api/v1/sessions")
        assert status == 200 and [i["token_name"] for i in listed["items"]] == ["test-viewer"] * 2
        assert (await h.request("GET", "/api/v1/sessions", role="operator"))[0] == 403
        first_id, second_id = (i["id"] for i in listed["items"])
        assert (await h.request("DELETE", f"/api/v1/sessions/{first_id}"))[0] == 204
        assert (await h.request("DELETE", f"/api/v1/sessions/{first_id}"))[0] == 404
        assert [await _ui_status(h.url, c) for c in cookies] == [303, 200]

        admin, csrf = await login(h.url, h.tokens["admin"])
        async with admin:
            async with admin.get(h.url + "/ui/tokens") as r:
                page = await r.text()
            assert f'action="/ui/sessions/{second_id}/end"' in page and cookies[1] not in page
            async with admin.post(h.url + f"/ui/sessions/{second_id}/end",
                                  data={"csrf": csrf}) as r:  # fmt: skip
                assert r.status == 200 and r.url.path == "/ui/tokens"
        assert await _ui_status(h.url, cookies[1]) == 303
        _, events = await h.request("GET", "/api/v1/events")
        assert [e["kind"] for e in events["items"]].count("session.ended") == 2
    finally:
        await h.daemon.stop()


async def test_sessions_work_across_a_cluster(tmp_path: Path) -> None:
    with throwaway_database() as dsn:
        a = await start_daemon(_config(tmp_path / "a", dsn))
        b = await start_daemon(_config(tmp_path / "b", dsn), tokens=a.tokens)
        try:
            s, _ = await login(a.url, a.tokens["viewer"])
            cookie = _cookie(s, a.url)
            await s.close()
            assert await _ui_status(b.url, cookie) == 200  # opened on A, good on B
            _, listed = await b.request("GET", "/api/v1/sessions")
            assert (await b.request("DELETE", f"/api/v1/sessions/{listed['items'][0]['id']}"))[
                0
            ] == 204
            assert await _ui_status(a.url, cookie) == 303  # ended on B, over on A at once
        finally:
            await b.daemon.stop()
            await a.daemon.stop()
