"""What the engine does around an outage: announcements once per outage, operator alerts
through their own fallback list, backfill limits, and a backlog paced by X's rate budget."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from failover.model import Health
from tests.harness import Harness, eventually, start_daemon, write_config
from tests.integration.test_failover import SECRETS
from tests.peers.faults import Fault
from tests.peers.webhook_receiver import WebhookReceiver
from tests.peers.x_api import XPeer


def config(x: str, backup: str, ops1: str, ops2: str, route_extra: str = "") -> str:
    return f"""
    [channels.x]
    type = "x"
    api_base = "{x}"
    consumer_key = "${{X_CONSUMER_KEY}}"
    consumer_secret = "${{X_CONSUMER_SECRET}}"
    access_token = "${{X_ACCESS_TOKEN}}"
    access_token_secret = "${{X_ACCESS_SECRET}}"
    timeout = 1.5

    [channels.x.health]
    down_after = 3
    up_after = 2
    cooldown = "1s"
    probes = [{{kind = "adapter", interval = "300ms", timeout = "1s"}}]

    [channels.backup]
    type = "webhook"
    url = "{backup}/hook"
    profile = "https://social.example/@acme"

    [channels.ops1]
    type = "webhook"
    url = "{ops1}/hook"

    [channels.ops2]
    type = "webhook"
    url = "{ops2}/hook"

    [routes.default]
    tiers = [["x"], ["backup"]]
    failback = "backfill"
    failback_spacing = "50ms"
    {route_extra}

    [routes.default.announce]
    down = "Trouble reaching {{channel}}; follow us at {{profiles}}"
    up = "{{channel}} is back."

    [alerts]
    channels = ["ops1", "ops2"]
    """


class Env:
    def __init__(self, h: Harness, x: XPeer, backup: WebhookReceiver, ops1: WebhookReceiver,
                 ops2: WebhookReceiver) -> None:  # fmt: skip
        self.h, self.x, self.backup, self.ops1, self.ops2 = h, x, backup, ops1, ops2

    def health(self) -> Health:
        return self.h.daemon.states["x"].effective

    def backup_texts(self) -> list[str]:
        return [r.body["text"] for r in self.backup.delivered()]


@pytest.fixture
async def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> AsyncIterator[Env]:
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    extra = getattr(request, "param", "")
    async with (
        XPeer() as x,
        WebhookReceiver() as backup,
        WebhookReceiver() as ops1,
        WebhookReceiver() as ops2,
    ):
        body = config(x.url, backup.server.url, ops1.server.url, ops2.server.url, extra)
        h = await start_daemon(write_config(tmp_path, body))
        try:
            await eventually(
                lambda: "x" in h.daemon.states and h.daemon.states["x"].effective is Health.UP
            )
            yield Env(h, x, backup, ops1, ops2)
        finally:
            await h.daemon.stop()


async def test_announcements_once_per_outage_and_recovery_only_after_it(env: Env) -> None:
    env.x.server.set_fault(Fault.HTML_5XX, status=503)
    await eventually(lambda: env.health() is Health.DOWN)
    await eventually(lambda: any(t.startswith("Trouble reaching X") for t in env.backup_texts()))
    [down] = [t for t in env.backup_texts() if t.startswith("Trouble")]
    assert (
        down == "Trouble reaching X; follow us at https://social.example/@acme"
    )  # the display name, never the key
    # A flap: back on probation, the first post fails, down again: no second announcement.
    env.x.server.set_fault(Fault.HTML_5XX, status=503, times=0)
    env.x.server.heal()
    await eventually(lambda: env.health() is Health.UP, timeout=10)
    env.x.server.set_fault(Fault.HTML_5XX, status=503)
    m = await env.h.post(text="posted during the flap")
    await eventually(lambda: env.health() is Health.DOWN)
    await env.h.wait_message(
        m["id"], lambda m: any(d["state"] == "delivered" for d in m["deliveries"])
    )
    # Recovery: two good posts end the probation; then, once, the recovery announcement.
    env.x.server.heal()
    await eventually(lambda: env.health() is Health.UP, timeout=10)
    for i in range(2):
        await env.h.wait_state((await env.h.post(text=f"after {i}"))["id"], "delivered")
    await eventually(lambda: "X is back." in env.x.texts + env.backup_texts(), timeout=10)
    await asyncio.sleep(0.5)
    everywhere = env.x.texts + env.backup_texts()
    assert sum(t.startswith("Trouble") for t in everywhere) == 1
    assert everywhere.count("X is back.") == 1
    assert not any(t.startswith("Trouble") for t in env.x.texts)  # never backfilled to X


async def test_operator_alerts_fall_back_past_a_dead_alert_channel(env: Env) -> None:
    await env.ops1.server.stop_listening()
    env.x.server.set_fault(Fault.HTML_5XX, status=503)
    await eventually(lambda: env.health() is Health.DOWN)
    await eventually(
        lambda: any("channel x is DOWN" in r.body["text"] for r in env.ops2.delivered()), timeout=20
    )
    assert env.ops1.received == []
    assert all(r.body["text"].startswith("[failover] ") for r in env.ops2.delivered())
    # Alerts never reach the public channels.
    assert not any("[failover]" in t for t in env.backup_texts() + env.x.texts)


@pytest.mark.parametrize("env", ['failback_max_age = "3s"'], indirect=True)
async def test_backfill_skips_expired_and_too_old_messages(env: Env) -> None:
    env.x.server.set_fault(Fault.HTML_5XX, status=503)
    await eventually(lambda: env.health() is Health.DOWN)
    old = await env.h.post(text="old news")
    soon = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
    sale = await env.h.post(text="flash sale", expires_at=soon)
    await asyncio.sleep(3.2)  # "old news" is now older than failback_max_age
    fresh = await env.h.post(text="fresh news")
    for m in (old, sale, fresh):
        await env.h.wait_message(
            m["id"],
            lambda m: any(
                d["channel"] == "backup" and d["state"] in ("delivered", "expired")
                for d in m["deliveries"]
            ),
        )
    env.x.server.heal()
    await eventually(lambda: "fresh news" in env.x.texts, timeout=15)
    await asyncio.sleep(0.5)
    assert "old news" not in env.x.texts and "flash sale" not in env.x.texts
    assert env.x.texts.count("fresh news") == 1


async def test_a_backlog_is_paced_by_the_rate_budget_never_a_burst_into_429(env: Env) -> None:
    env.x.state.limit, env.x.state.window = 3, 3.0
    env.x.state.window_start, env.x.state.used = time.time(), 0
    ids = [(await env.h.post(text=f"campaign {i}"))["id"] for i in range(7)]
    for i in ids:
        await env.h.wait_state(i, "delivered", timeout=30)
    assert env.x.state.refused_429 == 0
    times = sorted(t.at for t in env.x.state.tweets)
    for i in range(len(times) - 3):  # never more than 3 within one 3 s window
        assert times[i + 3] - times[i] >= 1.0, times
    assert env.backup.received == []  # a rate limit is not an outage
