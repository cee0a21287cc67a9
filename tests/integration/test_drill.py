"""`failover drill`: the primary is forced down, a marked message reaches a fallback, and the
primary is restored without the test message being backfilled to it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.harness import start_daemon, write_config
from tests.peers.webhook_receiver import WebhookReceiver


async def test_drill_reports_the_reroute_and_restores_the_primary(tmp_path: Path) -> None:
    async with WebhookReceiver() as primary, WebhookReceiver() as fallback:
        path = write_config(
            tmp_path,
            f"""
            [channels.hook]
            type = "webhook"
            url = "{primary.server.url}/hook"

            [channels.backup]
            type = "webhook"
            url = "{fallback.server.url}/hook"

            [routes.default]
            tiers = [["hook"], ["backup"]]
            failback = "backfill"
            """,
        )
        h = await start_daemon(path)
        try:
            env = {**os.environ, "FAILOVER_URL": h.url, "FAILOVER_TOKEN": h.tokens["operator"]}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "failover", "drill", "--channel", "hook", "--for", "1s",
                "--json", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0, err.decode()
            report = json.loads(out)
            assert report["passed"] is True
            states = {d["channel"]: d["state"] for d in report["deliveries"]}
            assert states == {"hook": "skipped", "backup": "delivered"}
            assert report["steps"]["first fallback delivery"] > 0
            assert [r.body["text"] for r in fallback.received] == [
                "[drill] failover test — please ignore"
            ]
            # Back on auto, and the drill message is not backfilled to the primary.
            status, channels = await h.request("GET", "/api/v1/channels", role="viewer")
            hook = next(c for c in channels["items"] if c["name"] == "hook")
            assert hook["forced"] == "auto"
            await asyncio.sleep(0.5)
            assert primary.received == []
            m = await h.message(report["message_id"])
            assert m["state"] == "cancelled" or all(
                d["state"] != "pending" for d in m["deliveries"]
            )
        finally:
            await h.daemon.stop()
