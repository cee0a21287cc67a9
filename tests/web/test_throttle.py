"""The failed-authentication throttle stops attackers, not users (docs/security.md): a valid
token is never refused for others' failures, a concurrent burst is throttled, one success
does not reset the count, and X-Forwarded-For counts only from ``api.trusted_proxies``."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from failover.api.throttle import FREE_FAILURES, AuthThrottle
from tests.harness import Harness, start_daemon, write_config
from tests.web.web_session import login

CONFIG = """
[channels.status]
type = "feed"

[routes.default]
tiers = [["status"]]
"""


def bogus() -> str:
    """A token of the right shape that does not exist: it costs a store lookup."""
    return "fo_" + secrets.token_urlsafe(32)


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Harness]:
    h = await start_daemon(write_config(tmp_path, CONFIG))
    yield h
    await h.daemon.stop()


async def _get(s: aiohttp.ClientSession, url: str, token: str, **headers: str) -> int:
    headers["Authorization"] = f"Bearer {token}"
    async with s.get(url + "/api/v1/status", headers=headers) as r:
        return r.status


async def test_a_concurrent_burst_is_throttled_and_a_valid_token_inside_it_is_not(
    daemon: Harness,
) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        burst = [_get(s, daemon.url, bogus()) for _ in range(300)]
        valid = [_get(s, daemon.url, daemon.tokens["viewer"]) for _ in range(5)]
        results = await asyncio.gather(*burst[:150], *valid, *burst[150:])
    guesses = results[:150] + results[155:]
    assert results[150:155] == [200] * 5  # never refused for the burst's failures
    assert set(guesses) <= {401, 429}
    # Counted before the lookup is awaited: at most the free failures get a plain 401.
    assert guesses.count(401) <= FREE_FAILURES and guesses.count(429) >= 300 - FREE_FAILURES


async def test_a_valid_token_is_never_refused_for_others_failures(daemon: Harness) -> None:
    async with aiohttp.ClientSession() as s:
        statuses = [await _get(s, daemon.url, bogus()) for _ in range(20)]
        assert statuses[-1] == 429
        assert await _get(s, daemon.url, daemon.tokens["viewer"]) == 200
        # The web login too: the form still takes a good token from a throttled address.
        session, _ = await login(daemon.url, daemon.tokens["viewer"])
        await session.close()
        assert await _get(s, daemon.url, bogus()) == 429  # and the attacker is still slowed


async def test_one_success_does_not_reset_the_count(daemon: Harness) -> None:
    async with aiohttp.ClientSession() as s:
        first = [await _get(s, daemon.url, bogus()) for _ in range(FREE_FAILURES)]
        assert first == [401] * FREE_FAILURES
        assert await _get(s, daemon.url, daemon.tokens["viewer"]) == 200
        assert await _get(s, daemon.url, bogus()) == 429  # the attacker's record stays


async def test_forwarded_for_counts_only_from_trusted_proxies(tmp_path: Path) -> None:
    trusting = tmp_path / "trusting"
    trusting.mkdir()
    path = write_config(trusting, CONFIG)
    path.write_text(path.read_text().replace("[api]\n", '[api]\ntrusted_proxies = ["127.0.0.1/32"]\n'))  # fmt: skip
    h = await start_daemon(path)
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(FREE_FAILURES + 1):
                await _get(s, h.url, bogus(), **{"X-Forwarded-For": "203.0.113.7"})
            assert await _get(s, h.url, bogus(), **{"X-Forwarded-For": "203.0.113.7"}) == 429
            # Another client behind the same proxy has its own budget.
            assert await _get(s, h.url, bogus(), **{"X-Forwarded-For": "203.0.113.8"}) == 401
            # The client is the last hop the proxy did not add: a forged first hop is ignored.
            hops = "198.51.100.1, 203.0.113.7"
            assert await _get(s, h.url, bogus(), **{"X-Forwarded-For": hops}) == 429
    finally:
        await h.daemon.stop()

    plain = tmp_path / "plain"
    plain.mkdir()
    h = await start_daemon(write_config(plain, CONFIG))
    try:
        async with aiohttp.ClientSession() as s:
            for i in range(FREE_FAILURES + 1):  # a header anyone can send changes nothing
                await _get(s, h.url, bogus(), **{"X-Forwarded-For": f"203.0.113.{i}"})
            assert await _get(s, h.url, bogus(), **{"X-Forwarded-For": "192.0.2.1"}) == 429
    finally:
        await h.daemon.stop()


def test_the_wait_doubles_and_is_capped_by_the_window() -> None:
    throttle = AuthThrottle()
    for i in range(FREE_FAILURES):
        throttle.begin("a", now=float(i))
    assert throttle.retry_after("a", now=4.0) == 0.0
    throttle.begin("a", now=5.0)
    assert throttle.retry_after("a", now=5.0) == 1.0
    throttle.begin("a", now=5.0)
    assert throttle.retry_after("a", now=5.0) == 2.0
    for _ in range(20):
        throttle.begin("a", now=6.0)
    assert throttle.retry_after("a", now=6.0) == throttle.window
    assert throttle.retry_after("a", now=6.0 + throttle.window) == 0.0  # all forgotten
    assert throttle.retry_after("b", now=6.0) == 0.0  # per address


async def test_a_throttled_address_gets_one_lookup_at_a_time() -> None:
    throttle = AuthThrottle()
    for _ in range(FREE_FAILURES + 1):
        throttle.begin("a")
    inside = 0
    most = 0

    async def lookup() -> None:
        nonlocal inside, most
        async with throttle.gate("a"):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    async def free_lookup() -> None:
        async with throttle.gate("b"):  # another address is never queued behind "a"
            assert inside >= 0

    await asyncio.gather(*(lookup() for _ in range(10)), free_lookup())
    assert most == 1 and throttle._gates == {}
