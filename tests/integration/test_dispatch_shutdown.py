"""Shutdown never drops an outcome already obtained from a platform (style point 18)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from failover.model import DeliveryState
from tests.harness import start_daemon, write_config
from tests.peers.webhook_receiver import WebhookReceiver


async def test_a_post_that_went_out_is_recorded_even_when_shutdown_cancels_its_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with WebhookReceiver() as receiver:
        body = f"""
        [channels.hook]
        type = "webhook"
        url = "{receiver.server.url}/hook"

        [routes.default]
        tiers = [["hook"]]
        """
        h = await start_daemon(write_config(tmp_path, body))
        try:
            writing = asyncio.Event()
            finish = h.daemon.store.finish

            async def slow_finish(*args: Any, **kw: Any) -> Any:
                writing.set()  # the platform has answered; the outcome is being written...
                await asyncio.sleep(0.3)  # ...when shutdown cancels the delivery's task
                return await finish(*args, **kw)

            monkeypatch.setattr(h.daemon.store, "finish", slow_finish)
            m = await h.post(text="went out just before shutdown")
            await asyncio.wait_for(writing.wait(), timeout=10)
            released = await h.daemon.scheduler.stop(grace=0)  # cancels what is in flight
            [d] = await h.daemon.store.deliveries(m["id"])
            assert released == 0
            assert d.state is DeliveryState.DELIVERED and not d.uncertain, d
            assert [r.body["text"] for r in receiver.received] == ["went out just before shutdown"]
        finally:
            await h.daemon.stop()
