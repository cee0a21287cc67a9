"""Logging in to the web UI the way a browser does (login nonce cookie, then session cookie)."""

from __future__ import annotations

import re

import aiohttp
from yarl import URL

from failover.web.session import COOKIE, session_hash
from tests.secrets_registry import secret


async def login(url: str, token: str) -> tuple[aiohttp.ClientSession, str]:
    """A client session logged in with ``token`` and the page's CSRF token."""
    s = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with s.get(url + "/ui/login") as r:
        nonce = re.search(r'name="nonce" value="([^"]+)"', await r.text())
    assert nonce is not None
    async with s.post(
        url + "/ui/login", data={"nonce": nonce[1], "token": token, "next": "/ui/"}
    ) as r:
        assert r.status == 200 and r.url.path == "/ui/", (r.status, r.url)
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', await r.text())
    assert csrf is not None
    cookie = s.cookie_jar.filter_cookies(URL(url))[COOKIE].value
    secret(cookie)  # neither the session's secret nor its stored hash may reach any log
    secret(session_hash(cookie))
    return s, csrf[1]
