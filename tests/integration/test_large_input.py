"""The largest input a user may send never blocks the event loop.

A viewer previews, and a publisher posts, the largest texts allowed (100,000 characters of
emoji, CJK and unbroken text, with per-channel overrides just as large) on a route to X and
Mastodon that splits them into threads, while /healthz is polled. The daemon keeps answering
and its loop-lag metric stays under a second throughout; one character more is a 422 that
names the field.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from failover.intake import MAX_TEXT
from tests.harness import Harness, start_daemon, write_config
from tests.peers.mastodon_api import TOKEN as MASTO_TOKEN
from tests.peers.mastodon_api import MastodonPeer
from tests.peers.x_api import ACCESS_SECRET, ACCESS_TOKEN, CONSUMER_KEY, CONSUMER_SECRET, XPeer
from tests.secrets_registry import secret

ENV = {
    "X_CONSUMER_KEY": CONSUMER_KEY,
    "X_CONSUMER_SECRET": secret(CONSUMER_SECRET),
    "X_ACCESS_TOKEN": secret(ACCESS_TOKEN),
    "X_ACCESS_SECRET": secret(ACCESS_SECRET),
    "TEST_MASTO_TOKEN": secret(MASTO_TOKEN),
}
EMOJI = ("🚨👩\u200d👩\u200d👧🇩🇪 " * MAX_TEXT)[:MAX_TEXT]
CJK = ("我们暂时无法连接到平台。更新会继续发布在状态页上。" * MAX_TEXT)[:MAX_TEXT]
UNBROKEN = "x" * MAX_TEXT
LAG = re.compile(r"^failover_event_loop_lag_seconds ([0-9.e+-]+)$", re.MULTILINE)


def config(x: XPeer, masto: MastodonPeer) -> str:
    return f"""
    [channels.x]
    type = "x"
    api_base = "{x.url}"
    consumer_key = "${{X_CONSUMER_KEY}}"
    consumer_secret = "${{X_CONSUMER_SECRET}}"
    access_token = "${{X_ACCESS_TOKEN}}"
    access_token_secret = "${{X_ACCESS_SECRET}}"

    [channels.masto]
    type = "mastodon"
    api_base_url = "{masto.url}"
    access_token = "${{TEST_MASTO_TOKEN}}"

    [channels.status]
    type = "feed"

    [routes.default]
    mode = "broadcast"
    fit = "thread"
    tiers = [["x", "masto", "status"]]
    """


@pytest.fixture
async def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    async with XPeer() as x, MastodonPeer() as masto:
        h = await start_daemon(write_config(tmp_path, config(x, masto)))
        try:
            yield h
        finally:
            await h.daemon.stop()


class Watch:
    """Polls /healthz and /metrics while the work runs; keeps the worst figures."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.worst_answer = 0.0
        self.worst_lag = 0.0
        self.answers = 0
        self.failures: list[int] = []

    async def run(self, stop: asyncio.Event) -> None:
        async with aiohttp.ClientSession() as s:
            while not stop.is_set():
                started = time.monotonic()
                async with s.get(self.h.url + "/healthz") as r:
                    await r.read()
                    if r.status != 200:
                        self.failures.append(r.status)
                self.worst_answer = max(self.worst_answer, time.monotonic() - started)
                self.answers += 1
                async with s.get(self.h.url + "/metrics") as r:
                    found = LAG.search(await r.text())
                    assert found, "no loop-lag metric"
                    self.worst_lag = max(self.worst_lag, float(found.group(1)))
                await asyncio.sleep(0.05)


async def test_largest_preview_and_post_keep_the_daemon_answering(daemon: Harness) -> None:
    watch = Watch(daemon)
    stop = asyncio.Event()
    poller = asyncio.create_task(watch.run(stop))
    await asyncio.sleep(0.3)
    body = {"text": EMOJI, "overrides": {"x": CJK, "masto": UNBROKEN}}
    for text in (EMOJI, CJK, UNBROKEN):
        status, preview = await daemon.request(
            "POST", "/api/v1/preview", role="viewer", json={"text": text}
        )
        assert status == 200, preview
        status, preview = await daemon.request(
            "POST", "/api/v1/preview", role="viewer", json={**body, "text": text}
        )
        assert status == 200, preview
        verdicts = {c["channel"]: c["verdict"] for c in preview["channels"]}
        assert verdicts["x"].startswith("thread of") and verdicts["masto"].startswith("thread of")
    await daemon.post(text=EMOJI)  # every channel fits the emoji text itself
    message = await daemon.post(**body)
    # Mastodon takes its 205-post thread; X takes posts until its rate limit (as X does).
    states: dict[str, tuple[str, int]] = {}
    for _ in range(1200):
        m = await daemon.message(message["id"])
        states = {d["channel"]: (d["state"], d["attempts"]) for d in m["deliveries"]}
        if states["masto"][0] == states["status"][0] == "delivered" and states["x"][1] >= 1:
            break
        await asyncio.sleep(0.1)
    assert states["masto"][0] == states["status"][0] == "delivered", states
    await asyncio.sleep(10.5)  # the lag metric covers the last 10 s: one more full window
    stop.set()
    await poller
    print(f"worst /healthz answer {watch.worst_answer:.3f}s, worst loop lag {watch.worst_lag:.3f}s")
    assert not watch.failures
    assert watch.answers > 20
    assert watch.worst_answer < 1.0, watch.worst_answer
    assert watch.worst_lag < 1.0, watch.worst_lag


async def test_one_character_past_the_limit_is_a_422_naming_the_field(daemon: Harness) -> None:
    for body, field in (
        ({"text": UNBROKEN + "y"}, "text"),
        ({"text": "hi", "overrides": {"masto": UNBROKEN + "y"}}, "overrides.masto"),
        ({"text": "hi", "overrides": {f"c{i}": "x" for i in range(65)}}, "overrides"),
    ):
        for path, role in (("/api/v1/messages", "publisher"), ("/api/v1/preview", "viewer")):
            status, problem = await daemon.request("POST", path, role=role, json=body)
            assert status == 422, (path, problem)
            assert problem["field"] == field, (path, problem)
    _, listed = await daemon.request("GET", "/api/v1/messages")
    assert listed["items"] == []  # nothing stored
