"""The failover engine against the X simulator, one test per fault mode of peers.md's checklist.

The daemon runs in process with its real config, store, probes and adapters; X is the local
X API (signed OAuth 1.0a requests) plus its Statuspage, the fallback is a signed webhook and the
owned feed. Health thresholds are the defaults' shape at test speed: 3 consecutive failures to
go down, 2 successes to come back, a 1 s cool-down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from failover.model import Attempt, Health
from tests.harness import Harness, eventually, start_daemon, write_config
from tests.peers.faults import Fault
from tests.peers.statuspage import StatuspagePeer
from tests.peers.webhook_receiver import WebhookReceiver
from tests.peers.x_api import ACCESS_SECRET, ACCESS_TOKEN, CONSUMER_KEY, CONSUMER_SECRET, XPeer
from tests.secrets_registry import secret

SECRETS = {
    "X_CONSUMER_KEY": CONSUMER_KEY,
    "X_CONSUMER_SECRET": secret(CONSUMER_SECRET),
    "X_ACCESS_TOKEN": secret(ACCESS_TOKEN),
    "X_ACCESS_SECRET": secret(ACCESS_SECRET),
}


def config(
    x_base: str,
    statuspage: str,
    backup: str,
    probes: str | None = None,
    *,
    x_timeout: float = 1.5,
    route: str = "",
) -> str:
    probes = probes or (
        f'{{kind = "statuspage", url = "{statuspage}/api/v2/summary.json", component = "Posting", '
        'interval = "300ms", timeout = "1s"}, {kind = "adapter", interval = "300ms", timeout = "1s"}'
    )
    return f"""
    [channels.x]
    type = "x"
    api_base = "{x_base}"
    consumer_key = "${{X_CONSUMER_KEY}}"
    consumer_secret = "${{X_CONSUMER_SECRET}}"
    access_token = "${{X_ACCESS_TOKEN}}"
    access_token_secret = "${{X_ACCESS_SECRET}}"
    timeout = {x_timeout}

    [channels.x.health]
    down_after = 3
    up_after = 2
    cooldown = "1s"
    probes = [{probes}]

    [channels.backup]
    type = "webhook"
    url = "{backup}/hook"

    [channels.backup.health]
    cooldown = "1s"

    [channels.status]
    type = "feed"

    [routes.default]
    tiers = [["x"], ["backup"]]
    failback = "backfill"
    failback_spacing = "100ms"
    {route}

    [routes.everywhere]
    mode = "broadcast"
    tiers = [["x", "backup"]]
    """


@dataclass
class World:
    h: Harness
    x: XPeer
    page: StatuspagePeer
    backup: WebhookReceiver

    def health(self, channel: str = "x") -> Health:
        return self.h.daemon.states[channel].effective

    async def kinds(self, message_id: int | None = None, channel: str | None = None) -> list[str]:
        query = f"?message_id={message_id}" if message_id else f"?channel={channel}"
        _, events = await self.h.request("GET", "/api/v1/events" + query)
        return [e["kind"] for e in events["items"]]

    def backup_texts(self) -> list[str]:
        return [r.body["text"] for r in self.backup.delivered()]


@pytest.fixture
async def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    async with XPeer() as x, StatuspagePeer() as page, WebhookReceiver() as backup:
        h = await start_daemon(write_config(tmp_path, config(x.url, page.url, backup.server.url)))
        try:
            await eventually(lambda: h.daemon.states["x"].effective is Health.UP)
            yield World(h, x, page, backup)
        finally:
            await h.daemon.stop()


def by_channel(m: dict[str, Any]) -> dict[str, str]:
    return {d["channel"]: d["state"] for d in m["deliveries"]}


def on_backup_and_skipped_on_x(m: dict[str, Any]) -> bool:
    """Delivered on the fallback, and X's delivery (whose attempt may hang on) left X."""
    states = by_channel(m)
    return states.get("backup") == "delivered" and states.get("x") == "skipped"


async def no_failover_for(w: World, seconds: float) -> None:
    """Health stays up for ``seconds`` (sampled), and no down transition was recorded."""
    end = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < end:
        assert w.health() is not Health.DOWN, w.h.daemon.states["x"]
        await asyncio.sleep(0.05)
    assert "channel.down" not in await w.kinds(channel="x")


async def failback_without_duplicates(w: World, *texts: str) -> None:
    """X recovers; what it missed is backfilled once; nothing is anywhere twice."""
    w.x.server.heal()
    w.page.set("none", Posting="operational")
    await eventually(lambda: all(t in w.x.texts for t in texts), timeout=20)
    await asyncio.sleep(0.5)
    for t in texts:
        assert w.x.texts.count(t) == 1, w.x.texts
        assert w.backup_texts().count(t) <= 1, w.backup_texts()


# -- no failover when none is due --------------------------------------------------------------


async def test_a_single_blip_is_retried_not_failed_over(world: World) -> None:
    # The post itself meets the blip: a probe (a read) running meanwhile must not take it.
    world.x.server.set_fault(Fault.WRITES_FAIL, times=1)
    m = await world.h.post(text="one blip")
    done = await world.h.wait_state(m["id"], "delivered")
    assert by_channel(done) == {"x": "delivered"}
    assert [a["outcome"] for a in done["deliveries"][0]["history"]] == ["transient", "delivered"]
    await no_failover_for(world, 0.5)
    assert world.backup.received == []


async def test_slow_answers_within_the_timeout_are_fine(world: World) -> None:
    world.x.server.set_fault(Fault.SLOW, delay=0.4)
    m = await world.h.post(text="slow but fine")
    assert by_channel(await world.h.wait_state(m["id"], "delivered")) == {"x": "delivered"}
    assert world.health() is Health.UP and world.backup.received == []


async def test_flapping_under_the_threshold_causes_no_failover(world: World) -> None:
    # Bad phases of 0.5 s fit at most 2 probes 300 ms apart: below down_after = 3.
    world.x.server.set_fault(Fault.FLAPPING, period=0.5)
    await no_failover_for(world, 3.0)
    world.x.server.heal()


async def test_rate_limit_waits_for_the_reset_and_does_not_fail_over(world: World) -> None:
    # The post meets the limit (a probe running meanwhile must not take the one 429).
    world.x.server.set_fault(Fault.RATE_LIMITED, retry_after=2, times=1, writes_only=True)
    m = await world.h.post(text="after the window")
    done = await world.h.wait_state(m["id"], "delivered")
    first, second = done["deliveries"][0]["history"]
    assert first["outcome"] == "rate_limited" and first["status"] == 429
    gap = datetime.fromisoformat(second["at"]) - datetime.fromisoformat(first["at"])
    assert gap >= timedelta(seconds=1), gap  # epoch-second reset: at least 1-2 s later
    assert by_channel(done) == {"x": "delivered"} and world.backup.received == []


async def test_ambiguous_write_is_reconciled_not_posted_twice(world: World) -> None:
    world.x.server.set_fault(Fault.AMBIGUOUS, times=1)
    m = await world.h.post(text="stored, then the line dropped")
    done = await world.h.wait_state(m["id"], "delivered")
    [d] = done["deliveries"]
    assert d["attempts"] == 2 and d["remote_id"] == world.x.state.tweets[0].id
    assert world.x.texts == ["stored, then the line dropped"]
    assert world.backup.received == []


# -- send-detected outages -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "params"),
    [
        (Fault.HTML_5XX, {"status": 502}),
        (Fault.JSON_5XX, {"status": 500}),
        (Fault.HANG, {}),
        (Fault.RESET, {}),
        (Fault.WRITES_FAIL, {}),
    ],
)
async def test_failing_posts_fail_over_then_fail_back(
    world: World, fault: Fault, params: dict[str, Any]
) -> None:
    world.x.server.set_fault(fault, **params)
    m = await world.h.post(text=f"during {fault.value}")
    done = await world.h.wait_message(m["id"], on_backup_and_skipped_on_x, timeout=20)
    assert world.health() is Health.DOWN
    assert by_channel(done)["x"] == "skipped"
    kinds = await world.kinds(m["id"])
    # Moved when its attempt failed, or handed on while a hung attempt still ran.
    assert {"message.rerouted", "message.escalated"} & set(kinds), kinds
    assert "delivery.skipped" in kinds
    # While X is down new messages go straight to the fallback.
    m2 = await world.h.post(text=f"second during {fault.value}")
    assert by_channel(m2)["x"] == "skipped"
    await world.h.wait_message(m2["id"], lambda m: by_channel(m).get("backup") == "delivered")
    await failback_without_duplicates(
        world, f"during {fault.value}", f"second during {fault.value}"
    )
    assert world.backup_texts() == [f"during {fault.value}", f"second during {fault.value}"]


async def test_refused_connections_fail_over(world: World) -> None:
    await world.x.server.stop_listening()
    m = await world.h.post(text="nobody home")
    await world.h.wait_message(m["id"], lambda m: by_channel(m).get("backup") == "delivered")
    assert world.health() is Health.DOWN
    await world.x.server.resume_listening()
    await failback_without_duplicates(world, "nobody home")


async def test_revoked_credentials_go_down_at_once(world: World) -> None:
    world.x.state.revoked = True
    m = await world.h.post(text="token revoked")
    done = await world.h.wait_message(m["id"], lambda m: by_channel(m).get("backup") == "delivered")
    x = next(d for d in done["deliveries"] if d["channel"] == "x")
    assert x["state"] in ("failed", "skipped") and x["attempts"] <= 1
    assert world.health() is Health.DOWN
    assert "credential" in (world.h.daemon.states["x"].reason or "") or "401" in (
        world.h.daemon.states["x"].reason or ""
    )


# -- probe-detected outages ----------------------------------------------------------------------


async def test_probes_detect_an_outage_before_any_post(world: World) -> None:
    world.x.server.set_fault(Fault.HTML_5XX, status=503)
    world.page.set("major", Posting="major_outage")
    await eventually(lambda: world.health() is Health.DOWN, timeout=10)
    m = await world.h.post(text="routed around at once")
    assert by_channel(m)["x"] == "skipped"
    await world.h.wait_message(m["id"], lambda m: by_channel(m).get("backup") == "delivered")
    assert "routed around at once" not in world.x.texts
    await failback_without_duplicates(world, "routed around at once")


async def test_a_red_status_page_alone_does_not_fail_over_while_posts_work(world: World) -> None:
    world.page.set("minor", Posting="degraded_performance")
    await eventually(lambda: world.health() is Health.DEGRADED)
    m = await world.h.post(text="degraded is still used")
    assert by_channel(await world.h.wait_state(m["id"], "delivered")) == {"x": "delivered"}
    world.page.set("none", Posting="operational")


async def test_unresolvable_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    async with StatuspagePeer() as page, WebhookReceiver() as backup:
        body = config("http://api.x-simulator.invalid", page.url, backup.server.url,
                      probes='{kind = "adapter", interval = "300ms", timeout = "1s"}')  # fmt: skip
        h = await start_daemon(write_config(tmp_path, body))
        try:
            await eventually(
                lambda: "x" in h.daemon.states and h.daemon.states["x"].effective is Health.DOWN
            )
            m = await h.post(text="dns is gone")
            await h.wait_message(m["id"], lambda m: by_channel(m).get("backup") == "delivered")
            assert "cannot connect" in (h.daemon.states["x"].reason or "")
        finally:
            await h.daemon.stop()


# -- everything down -----------------------------------------------------------------------------


async def test_every_channel_down_loses_nothing_and_expired_stay_unsent(world: World) -> None:
    world.x.server.set_fault(Fault.HTML_5XX, status=503)
    await world.backup.server.stop_listening()
    keep = [await world.h.post(text=f"kept {i}") for i in range(3)]
    soon = datetime.now(UTC) + timedelta(seconds=2)
    short = await world.h.post(text="flash sale", expires_at=soon.isoformat())
    bcast = await world.h.post(text="broadcast while down", route="everywhere")
    await eventually(lambda: world.health() is Health.DOWN, timeout=10)
    await asyncio.sleep(2.5)  # past the flash sale's expiry, everything still down
    for m in [*keep, bcast]:
        got = await world.h.message(m["id"])
        assert got["state"] == "queued", got  # waiting, not given up
    world.x.server.heal()
    await world.backup.server.resume_listening()
    for m in [*keep, bcast]:
        await world.h.wait_state(m["id"], "delivered", "partial", timeout=25)
    assert (await world.h.wait_state(short["id"], "expired", timeout=10))["state"] == "expired"
    everywhere = world.x.texts + world.backup_texts()
    assert "flash sale" not in everywhere
    for i in range(3):
        assert everywhere.count(f"kept {i}") >= 1
        assert (
            world.x.texts.count(f"kept {i}") <= 1 and world.backup_texts().count(f"kept {i}") <= 1
        )
    assert world.x.texts.count("broadcast while down") == 1, by_channel(
        await world.h.message(bcast["id"])
    )
    assert world.backup_texts().count("broadcast while down") == 1


# -- hangs: X accepts and never answers, or stalls mid-body ----------------------------------------


async def attempts_on(w: World, message: dict[str, Any], channel: str) -> list[Attempt]:
    [d] = [d for d in message["deliveries"] if d["channel"] == channel]
    return await w.h.daemon.store.attempts(d["id"])


async def down_spans(w: World) -> list[tuple[datetime, datetime]]:
    """When X was down (a green status page may bring it back on probation meanwhile)."""
    spans, start = [], None
    for e in reversed(await w.h.daemon.store.events(channel="x", limit=100)):
        if e.kind == "channel.down" and start is None:
            start = e.at
        elif e.kind in ("channel.up", "channel.degraded") and start is not None:
            spans.append((start, e.at))
            start = None
    assert spans or start is not None, "X was never down"
    return [*spans, *([(start, datetime.max.replace(tzinfo=UTC))] if start else [])]


@pytest.mark.parametrize("fault", [Fault.HANG, Fault.STALL])
async def test_a_post_made_as_x_hangs_leaves_x_when_its_attempt_ends(
    world: World, fault: Fault
) -> None:
    world.x.server.set_fault(fault)
    text = f"posted as X {fault.value}s"
    m = await world.h.post(text=text)
    done = await world.h.wait_message(m["id"], on_backup_and_skipped_on_x, timeout=20)
    [x] = [d for d in done["deliveries"] if d["channel"] == "x"]
    # Never tried on X while X was down: the attempt in flight when it went down was left
    # to end, then moved off X, recorded as uncertain.
    spans = await down_spans(world)
    for a in await attempts_on(world, done, "x"):
        assert not any(start < a.started_at < end for start, end in spans), (a, spans)
    assert x["uncertain"], x
    kinds = await world.kinds(m["id"])
    assert "message.escalated" in kinds or "message.rerouted" in kinds, kinds
    # Failback reconciles first: a stalled answer had posted it (found, not posted again), a
    # hang had not (posted once now).
    await failback_without_duplicates(world, text)
    back = await world.h.wait_message(m["id"], lambda m: by_channel(m)["x"] == "delivered")
    assert by_channel(back) == {"x": "delivered", "backup": "delivered"}


async def test_black_holed_probes_with_a_green_status_page_confirm_the_hang(world: World) -> None:
    world.x.server.set_fault(Fault.HANG)  # /2/users/me hangs too; the status page stays green
    await eventually(lambda: world.health() is Health.DOWN, timeout=10)
    reason = world.h.daemon.states["x"].reason
    # Confirmed by the probes' own 1 s timeout, not by sends timing out after 1.5 s.
    assert "probe:adapter: check timed out after 1s" in reason, reason
    m = await world.h.post(text="while X is black-holed")
    assert by_channel(m)["x"] == "skipped"
    await world.h.wait_message(m["id"], lambda m: by_channel(m).get("backup") == "delivered")
    await failback_without_duplicates(world, "while X is black-holed")


@contextlib.asynccontextmanager
async def custom_world(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, probes: str, **kw: Any
) -> AsyncIterator[World]:
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    async with XPeer() as x, StatuspagePeer() as page, WebhookReceiver() as backup:
        probes = probes.format(page=page.url)
        body = config(x.url, page.url, backup.server.url, probes, **kw)
        h = await start_daemon(write_config(tmp_path, body))
        try:
            await eventually(lambda: h.daemon.states["x"].effective is Health.UP)
            yield World(h, x, page, backup)
        finally:
            await h.daemon.stop()


GREEN_PAGE_ONLY = (
    '{{kind = "statuspage", url = "{page}/api/v2/summary.json", component = "Posting", '
    'interval = "300ms", timeout = "1s"}}'
)


@pytest.fixture
async def slow_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    """X's only probe is its (green) status page and its requests may take 4 s: health can
    only learn of a hang from sends, so the escalation deadline (1 s) is what moves first."""
    async with custom_world(monkeypatch, tmp_path, GREEN_PAGE_ONLY, x_timeout=4,
                            route='escalate_after = "1s"') as w:  # fmt: skip
        yield w


async def test_a_send_gone_silent_makes_the_probes_look_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The adapter check runs once a minute; X's requests may take 30 s; no escalation. Only
    # the silent send itself can make the probes look before the minute is up.
    probes = '{{kind = "adapter", interval = "60s", timeout = "1s"}}'
    async with custom_world(monkeypatch, tmp_path, probes, x_timeout=30,
                            route='escalate_after = "off"') as w:  # fmt: skip
        w.x.server.set_fault(Fault.HANG)
        m = await w.h.post(text="silence is a signal")
        await eventually(lambda: w.health() is Health.DOWN, timeout=8)
        x = next(d for d in (await w.h.message(m["id"]))["deliveries"] if d["channel"] == "x")
        assert x["state"] == "sending" and x["attempts"] == 0  # confirmed while the send hangs
        assert "probe:adapter: check timed out after 1s" in w.h.daemon.states["x"].reason
        # The fallback has it as soon as X is down; the attempt ends at the dispatcher's own
        # limit (10 s here) and is recorded as uncertain, not retried on X.
        done = await w.h.wait_message(m["id"], on_backup_and_skipped_on_x, timeout=20)
        x = next(d for d in done["deliveries"] if d["channel"] == "x")
        assert x["state"] == "skipped" and x["uncertain"] and x["attempts"] == 1, x
        # (Failback is not awaited here: with a 60 s probe interval X comes back in minutes.)


async def test_escalation_hands_a_hung_post_to_the_next_tier_while_the_attempt_runs(
    slow_world: World,
) -> None:
    w = slow_world
    w.x.server.set_fault(Fault.HANG)
    m = await w.h.post(text="customers hear within the deadline")
    done = await w.h.wait_message(
        m["id"], lambda m: by_channel(m).get("backup") == "delivered", timeout=10
    )
    [x] = [d for d in done["deliveries"] if d["channel"] == "x"]
    assert x["state"] == "sending" and x["attempts"] == 0, x  # X's first attempt still runs
    events = await w.h.daemon.store.events(message_id=m["id"])
    [escalated] = [e for e in events if e.kind == "message.escalated"]
    assert escalated.detail["from"] == "x" and escalated.detail["to"] == ["backup"]
    assert "not confirmed within the escalation deadline" in escalated.detail["reason"]
    assert w.health() is not Health.DOWN  # before health detection concluded anything
    # X comes back: its late copy is reconciled after the uncertain attempt, never doubled.
    w.x.server.heal()
    late = await w.h.wait_state(m["id"], "delivered", timeout=20)
    assert by_channel(late) == {"x": "delivered", "backup": "delivered"}
    assert w.x.texts.count("customers hear within the deadline") == 1
    assert w.backup_texts() == ["customers hear within the deadline"]
