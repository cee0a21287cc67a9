"""Hostile input never reaches a 500: a table of bodies, headers, cookies and paths, sent as raw
bytes (no client library tidies them up), against a daemon on each store. Every answer is a
4xx (a problem document under /api/) and nothing is logged as an unhandled error."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import Harness, start_daemon, write_config
from tests.peers.postgres_db import throwaway_database
from tests.web.web_session import login

CONFIG = """
[channels.status]
type = "feed"

[routes.default]
tiers = [["status"]]
"""
DEEP = 100_000  # nesting levels, far past the JSON parser's recursion limit
BIG = "9" * 5000  # digits, past Python's int-conversion limit
HUGE_ID = str(2**63)


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = ()
    auth: str | None = "admin"  # which token's Authorization header, if any
    session: bool = False  # send the admin's session cookie and CSRF token
    expect: tuple[int, ...] = (400, 404, 413, 415, 422)


JSON_TYPE = (b"Content-Type", b"application/json")


def _json(name: str, path: str, body: bytes, *expect: int, method: str = "POST") -> Case:
    return Case(name, method, path, body, (JSON_TYPE,), expect=expect or (422,))


def _form(name: str, path: str, fields: bytes, *expect: int) -> Case:
    form = (b"Content-Type", b"application/x-www-form-urlencoded")
    return Case(
        name, "POST", path, fields, (form,), auth=None, session=True, expect=expect or (422,)
    )


CASES = [
    # bodies
    _json("deep JSON array", "/api/v1/messages", b"[" * DEEP + b"]" * DEEP),
    _json(
        "deep JSON object",
        "/api/v1/messages",
        b'{"text":' + b'{"a":' * DEEP + b"1" + b"}" * (DEEP + 1),
    ),
    _json("5000-digit number", "/api/v1/messages", b'{"text":"x","thread":' + BIG.encode() + b"}"),
    _json("5000-digit number in preview", "/api/v1/preview", b'{"text":' + BIG.encode() + b"}"),
    _json("thread 2**63", "/api/v1/messages", b'{"text":"x","thread":' + HUGE_ID.encode() + b"}"),
    _json("NUL in text", "/api/v1/messages", b'{"text":"a\\u0000b"}'),
    _json("lone surrogate in text", "/api/v1/messages", b'{"text":"\\ud800"}'),
    _json(
        "NUL in an override's key", "/api/v1/messages", b'{"text":"x","overrides":{"a\\u0000":"y"}}'
    ),
    _json("invalid UTF-8 body", "/api/v1/messages", b'{"text":"\xff\xfe"}'),
    _json("NUL in a token name", "/api/v1/tokens", b'{"name":"a\\u0000","role":"viewer"}'),
    _json("edit message id 2**63", f"/api/v1/messages/{HUGE_ID}", b"{}", 404, method="PATCH"),
    Case(
        "charset=bogus",
        "POST",
        "/api/v1/messages",
        b'{"text":"x"}',
        ((b"Content-Type", b"application/json; charset=bogus"),),
    ),
    Case(
        "charset=bogus form",
        "POST",
        "/ui/compose",
        b"text=x",
        ((b"Content-Type", b"application/x-www-form-urlencoded; charset=bogus"),),
        auth=None,
        session=True,
    ),
    # ids and numbers in paths and queries
    Case("message id 2**63", "GET", f"/api/v1/messages/{HUGE_ID}"),
    Case("message id of 5000 digits", "GET", f"/api/v1/messages/{BIG}"),
    Case("cancel id 2**63", "POST", f"/api/v1/messages/{HUGE_ID}/cancel"),
    Case("retract id 2**63", "POST", f"/api/v1/messages/{HUGE_ID}/retract"),
    Case("token id 2**63", "DELETE", f"/api/v1/tokens/{HUGE_ID}"),
    Case("session id 2**63", "DELETE", f"/api/v1/sessions/{HUGE_ID}"),
    Case("before=2**63", "GET", f"/api/v1/messages?before={HUGE_ID}"),
    Case("limit of 5000 digits", "GET", f"/api/v1/messages?limit={BIG}"),
    Case("limit=²", "GET", "/api/v1/messages?limit=%C2%B2"),
    Case("message_id=2**63", "GET", f"/api/v1/events?message_id={HUGE_ID}"),
    Case("since=junk", "GET", "/api/v1/events?since=%00%ff"),
    Case("NUL in a query", "GET", "/api/v1/events?channel=%00"),
    Case("NUL in a route filter", "GET", "/api/v1/messages?route=a%00b"),
    Case("UI message id 2**63", "GET", f"/ui/messages/{HUGE_ID}", auth=None, session=True),
    # headers
    Case(
        "non-UTF-8 Idempotency-Key",
        "POST",
        "/api/v1/messages",
        b'{"text":"x"}',
        (JSON_TYPE, (b"Idempotency-Key", b"\xff\xfe-key")),
    ),
    Case(
        "non-ASCII Idempotency-Key",
        "POST",
        "/api/v1/messages",
        b'{"text":"x"}',
        (JSON_TYPE, (b"Idempotency-Key", "ключ".encode())),
    ),
    Case(
        "non-UTF-8 bearer token",
        "GET",
        "/api/v1/status",
        headers=((b"Authorization", b"Bearer \xff\xfe"),),
        auth=None,
        expect=(401,),
    ),
    Case(
        "5000-character bearer token",
        "GET",
        "/api/v1/status",
        headers=((b"Authorization", b"Bearer fo_" + b"a" * 5000),),
        auth=None,
        expect=(401,),
    ),
    Case(
        "non-ASCII CSRF header",
        "POST",
        "/ui/preview",
        b"{}",
        (JSON_TYPE, (b"X-CSRF-Token", "²".encode())),
        auth=None,
        session=True,
        expect=(403,),
    ),
    Case(
        "forged X-Forwarded-For",
        "GET",
        "/api/v1/status",
        headers=((b"X-Forwarded-For", b"\xff, not-an-ip, 1.2.3.4"),),
        expect=(200,),
    ),
    # forms
    _form("tz=America", "/ui/compose", b"text=x&scheduled_at=2099-01-01T09:00&tz=America"),
    _form(
        "tz=../../etc/passwd",
        "/ui/compose",
        b"text=x&scheduled_at=2099-01-01T09:00&tz=..%2F..%2Fetc%2Fpasswd",
    ),
    _form("thread=²", "/ui/compose", b"text=x&thread=%C2%B2"),
    _form("thread of 5000 digits", "/ui/compose", b"text=x&thread=" + BIG.encode()),
    _form("invalid UTF-8 form", "/ui/compose", b"text=\xff\xfe", 400),
    _form("NUL in an incident title", "/ui/incidents/new", b"title=a%00b&body=x&state=identified"),
    _form(
        "lone surrogate in an incident", "/ui/incidents/new", b"title=t&body=%ED%A0%80", 400, 422
    ),
    _form(
        "NUL in a component id", "/ui/incidents/new", b"title=t&body=x&component.a%00=major_outage"
    ),
    _form("invalid UTF-8 incident", "/ui/incidents/new", b"title=\xff\xfe", 400),
    _form("update of incident 2**63", f"/ui/incidents/{HUGE_ID}", b"state=x&body=y", 404),
    _form(
        "maintenance tz=America",
        "/ui/maintenance/new",
        b"title=t&body=x&scheduled_for=2099-01-01T09:00&scheduled_until=2099-01-01T10:00&tz=America",
    ),
    _form(
        "maintenance in year 99999",
        "/ui/maintenance/new",
        b"title=t&body=x&scheduled_for=99999-01-01T09:00&scheduled_until=2099-01-01T10:00",
    ),
    _form(
        "reminder of 5000 digits",
        "/ui/maintenance/new",
        b"title=t&body=x&scheduled_for=2099-01-01T09:00&scheduled_until=2099-01-01T10:00&remind_before="
        + BIG.encode()
        + b"s",
    ),
    _form("non-ASCII component path", "/ui/components/%C2%B2", b"status=major_outage", 404),
    _form("NUL in a new component", "/ui/components", b"id=a&name=b%00c"),
    Case(
        "preview of incident 5000 digits",
        "POST",
        "/ui/incidents/preview",
        b'{"state":"identified","incident":"' + BIG.encode() + b'"}',
        (JSON_TYPE,),
        auth=None,
        session=True,
        expect=(422,),
    ),
    Case("UI incident id 2**63", "GET", f"/ui/incidents/{HUGE_ID}", auth=None, session=True),
    Case(
        "tz=America on a page",
        "GET",
        "/ui/scheduled?tz=America",
        auth=None,
        session=True,
        expect=(200,),
    ),
    # cookies
    *(
        Case(
            f"session cookie {label}",
            "GET",
            "/ui/",
            auth=None,
            expect=(303,),
            headers=((b"Cookie", b"failover_session=" + value),),
        )
        for label, value in [
            ("²", "²".encode()),
            ("2**70", str(2**70).encode()),
            ("5000 nines", BIG.encode()),
            ("invalid UTF-8", b"\xff\xfe"),
            ("old-style signed", b"1.4102444800.abcdef"),
        ]
    ),
    Case(
        "login nonce cookie ²",
        "POST",
        "/ui/login",
        b"nonce=%C2%B2&token=x",
        (
            (b"Content-Type", b"application/x-www-form-urlencoded"),
            (b"Cookie", "failover_login=²".encode()),
        ),
        auth=None,
        expect=(401,),
    ),
    # paths
    Case("/status/%00", "GET", "/status/%00", auth=None),
    Case("300-character /status/ path", "GET", "/status/" + "a" * 300, auth=None),
    Case("300-character /status/ dir path", "GET", "/status/" + "a/" * 150, auth=None),
    Case(
        "/status/ escaping its directory", "GET", "/status/..%2F..%2Fstate%2Ffailover.db", auth=None
    ),
    Case(
        "NUL in a channel name",
        "POST",
        "/api/v1/channels/a%00b/force",
        b'{"state":"down"}',
        (JSON_TYPE,),
    ),
]


async def raw_request(
    url: str, case: Case, extra: list[tuple[bytes, bytes]]
) -> tuple[int, bytes, bytes]:
    """Send ``case`` byte for byte; return (status, headers, body)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = [
        f"{case.method} {case.path} HTTP/1.1".encode(),
        f"Host: {host}".encode(),
        b"Connection: close",
        f"Content-Length: {len(case.body)}".encode(),
    ]
    head += [k + b": " + v for k, v in [*case.headers, *extra]]
    writer.write(b"\r\n".join(head) + b"\r\n\r\n" + case.body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), timeout=30)
    writer.close()
    headers, _, body = answer.partition(b"\r\n\r\n")
    return int(headers.split(b" ", 2)[1]), headers, body


@pytest.fixture(params=["sqlite", "postgres"])
async def daemon(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    path = write_config(tmp_path, CONFIG)
    if request.param == "postgres":
        with throwaway_database() as dsn:
            path.write_text(f'store = "{dsn}"\n' + path.read_text())
            h = await start_daemon(path)
            yield h
            await h.daemon.stop()
        return
    h = await start_daemon(path)
    yield h
    await h.daemon.stop()


async def test_no_hostile_input_reaches_a_500(
    daemon: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    s, csrf = await login(daemon.url, daemon.tokens["admin"])
    cookie = "; ".join(f"{c.key}={c.value}" for c in s.cookie_jar).encode()
    await s.close()
    wrong = []
    for case in CASES:
        extra: list[tuple[bytes, bytes]] = []
        if case.auth:
            extra.append((b"Authorization", f"Bearer {daemon.tokens[case.auth]}".encode()))
        if case.session:
            extra += [(b"Cookie", cookie), (b"X-CSRF-Token", csrf.encode())]
            if any(k == b"X-CSRF-Token" for k, _ in case.headers):
                extra.pop()
        status, headers, body = await raw_request(daemon.url, case, extra)
        problem_ok = (
            not case.path.startswith("/api/")
            or status < 400
            or (b"application/problem+json" in headers and json.loads(body)["detail"])
        )
        if status not in case.expect or not problem_ok:
            wrong.append((case.name, status, body[:200]))
    assert wrong == []
    unhandled = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert [(r.name, r.getMessage()[:200]) for r in unhandled] == []
    assert "Traceback" not in caplog.text
    # Nothing was stored by any of it (the login's own session aside).
    _, messages = await daemon.request("GET", "/api/v1/messages")
    assert messages["items"] == []
