"""Posts found long after their time: marked missed, or sent late one by one — never a burst."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from failover.clock import FakeClock
from tests.harness import eventually, start_daemon, write_config
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
