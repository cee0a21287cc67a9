"""Posts found long after their time: marked missed, or sent late one by one — never a burst."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from failover.clock import FakeClock
from failover.config import load_config
from failover.daemon import Daemon
from failover.model import ChannelState, Forced
from tests.harness import Harness, eventually, start_daemon, write_config
from tests.peers.webhook_receiver import WebhookReceiver

T0 = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as r:
        yield r


def cfg(receiver: WebhookReceiver, late: str) -> str:
    return f"""
    [channels.hook]
    type = "webhook"
    url = "{receiver.server.url}/hook"

    [routes.default]
    tiers = [["hook"]]
    lateness = "15m"
    late = "{late}"
    late_spacing = "1m"
    """


async def downtime(tmp_path: Path, receiver: WebhookReceiver, late: str, count: int):  # type: ignore[no-untyped-def]
    """Accept ``count`` posts due in 10 s, then the daemon is down for an hour."""
    clock = FakeClock(T0)
    path = write_config(tmp_path, cfg(receiver, late))
    h = await start_daemon(path, clock=clock)
    ids = [
        (
            await h.post(
                text=f"campaign post {i}", scheduled_at=(T0 + timedelta(seconds=10)).isoformat()
            )
        )["id"]
        for i in range(count)
    ]
    tokens = h.tokens
    await h.daemon.stop()
    clock.advance(3600)
    h = await start_daemon(path, clock=clock, tokens=tokens)
    return h, clock, ids


async def test_late_posts_are_marked_missed_without_calling_the_platform(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    h, clock, ids = await downtime(tmp_path, receiver, "miss", 3)
    try:
        for message_id in ids:
            m = await h.wait_state(message_id, "missed")
            d = m["deliveries"][0]
            assert d["state"] == "missed" and d["attempts"] == 0 and "late" in d["last_error"]
        assert receiver.received == []
    finally:
        await h.daemon.stop()


async def test_late_posts_are_sent_one_by_one(tmp_path: Path, receiver: WebhookReceiver) -> None:
    h, clock, ids = await downtime(tmp_path, receiver, "send", 3)
    try:
        await eventually(lambda: len(receiver.received) == 1)
        msgs = [await h.message(i) for i in ids]
        waiting = sorted(
            datetime.fromisoformat(m["deliveries"][0]["next_attempt_at"])
            for m in msgs
            if m["state"] != "delivered"
        )
        now = clock.now()
        assert len(waiting) == 2
        assert waiting[0] >= now + timedelta(seconds=59) and waiting[1] >= waiting[0] + timedelta(
            seconds=59
        )
        clock.advance(61)
        h.daemon.scheduler.wake()
        await eventually(lambda: len(receiver.received) == 2)
        clock.advance(61)
        h.daemon.scheduler.wake()
        await eventually(lambda: len(receiver.received) == 3)
        assert sorted(r.body["text"] for r in receiver.received) == [
            f"campaign post {i}" for i in range(3)
        ]
    finally:
        await h.daemon.stop()


async def test_an_operator_force_survives_paced_late_sends(
    tmp_path: Path, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``force down`` lands while the late slots are being handed out: it stays down."""
    clock = FakeClock(T0)
    path = write_config(tmp_path, cfg(receiver, "send"))
    h = await start_daemon(path, clock=clock)
    due = (T0 + timedelta(seconds=10)).isoformat()
    ids = [(await h.post(text=f"late {i}", scheduled_at=due))["id"] for i in range(4)]
    tokens = h.tokens
    await h.daemon.stop()
    clock.advance(3600)
    daemon = Daemon(load_config(path, env=dict(os.environ)), clock=clock)
    forced: list[ChannelState] = []
    calls: list[str] = []

    def racing(name: str) -> None:
        """The operator's force lands inside the store call that serves the second late slot
        (whichever call that is), after the dispatcher asked and before it goes on."""
        original = getattr(daemon.store, name)

        async def call(*args: Any, **kw: Any) -> Any:
            result = await original(*args, **kw)
            if getattr(daemon, "scheduler", None) and daemon.scheduler.passes:
                calls.append(name)
                if len(calls) == 2:
                    forced.append(await daemon.cluster.forcing.force("hook", Forced.DOWN, "alice"))
            return result

        monkeypatch.setattr(daemon.store, name, call)

    racing("channel_states")
    racing("advance_late_cursor")
    await daemon.start()
    h = Harness(daemon, tokens)
    try:
        await eventually(lambda: bool(forced))

        async def all_handled() -> bool:
            ds = [(await h.message(i))["deliveries"][0] for i in ids]
            return all(
                d["state"] == "delivered" or "late by" in (d["last_error"] or "") for d in ds
            )

        await eventually(all_handled)
        stored = (await daemon.store.channel_states())["hook"]
        assert (stored.forced, stored.forced_by) == (Forced.DOWN, "alice")
        assert daemon.states["hook"].forced is Forced.DOWN
        deliveries = [(await h.message(i))["deliveries"][0] for i in ids]
        slots = sorted(
            datetime.fromisoformat(d["next_attempt_at"])
            for d in deliveries
            if d["state"] == "pending"
        )
        assert len(slots) == 3
        assert all(b - a >= timedelta(seconds=59) for a, b in itertools.pairwise(slots))
    finally:
        await daemon.stop()
