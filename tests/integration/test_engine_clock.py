"""The engine writes its timestamps from the daemon's clock, so a FakeClock governs outages
too: a delivery moved off a channel that went down carries the clock's time, not the wall's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from failover.clock import FakeClock
from failover.model import Forced
from tests.harness import eventually, start_daemon, write_config
from tests.peers.webhook_receiver import WebhookReceiver

# Two days behind the wall clock: any timestamp taken from the wall stands out.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as r:
        yield r


async def test_a_channel_going_down_moves_deliveries_at_the_clocks_time(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    url = f"{receiver.server.url}/hook"
    path = write_config(
        tmp_path,
        f"""
        [channels.first]
        type = "webhook"
        url = "{url}"

        [channels.second]
        type = "webhook"
        url = "{url}"

        [routes.default]
        tiers = [["first"], ["second"]]
        """,
    )
    clock = FakeClock(T0)
    h = await start_daemon(path, clock=clock)
    try:
        later = (T0 + timedelta(hours=1)).isoformat()
        message_id = (await h.post(text="tomorrow's sale", scheduled_at=later))["id"]
        clock.advance(5)
        await h.daemon.cluster.forcing.force("first", Forced.DOWN, "alice")

        async def skipped() -> list[dict[str, object]]:
            status, body = await h.request("GET", f"/api/v1/events?message_id={message_id}")
            assert status == 200, body
            return [e for e in body["items"] if e["kind"] == "delivery.skipped"]

        async def moved() -> bool:
            return bool(await skipped())

        await eventually(moved)
        [event] = await skipped()
        assert event["channel"] == "first"
        assert datetime.fromisoformat(str(event["at"])) == T0 + timedelta(seconds=5)
    finally:
        await h.daemon.stop()
