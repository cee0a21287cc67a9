"""kill -9 between a webhook subscriber's failed POST and its retry: the daemon process that
comes back sends the missed copy, unchanged (the retry lives in the store, not in memory)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.daemon_process import DaemonProcess
from tests.e2e.test_crash import make_token
from tests.harness import write_config
from tests.peers.webhook_receiver import WebhookReceiver
from tests.secrets_registry import secret

pytestmark = pytest.mark.slow
SECRET = secret("whsec-crash-test-0123456789")


async def test_sigkill_before_a_hook_retry_loses_it_not(tmp_path: Path) -> None:
    async with WebhookReceiver(secret=SECRET) as receiver:
        config = write_config(
            tmp_path,
            """
            [channels.hooks]
            type = "webhook"
            recipients_from = "subscribers"
            timeout = 2

            [routes.default]
            mode = "broadcast"
            tiers = [["hooks"]]

            [subscribers]
            hook_retries = ["3s"]
            """,
        )
        token = make_token(config, "admin")
        daemon = DaemonProcess(config)
        daemon.start()
        url = "http://" + config.read_text().split('listen = "')[1].split('"')[0]
        await daemon.wait_ready(url)
        receiver.fail_next(1, status=503)
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
            hook = {"url": f"{receiver.server.url}/hook", "secret": SECRET}
            async with s.post(url + "/api/v1/subscribers", json=hook) as r:
                assert r.status == 201, await r.text()
            async with s.post(url + "/api/v1/messages", json={"text": "Investigating"}) as r:
                assert r.status == 201, await r.text()
            while not receiver.received:
                await asyncio.sleep(0.01)
        daemon.kill()  # the retry is due in 3 s: it has not been sent
        killed_at = time.time()
        assert [r.status for r in receiver.received] == [503]
        daemon.start()
        await daemon.wait_ready(url)
        for _ in range(400):
            if receiver.delivered():
                break
            await asyncio.sleep(0.05)
        assert daemon.terminate() == 0
        first, again = receiver.received
        assert again.status == 200 and again.at > killed_at
        assert again.raw == first.raw
        assert again.headers["Idempotency-Key"] == first.headers["Idempotency-Key"]
