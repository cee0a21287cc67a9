"""`failover drill`: the primary is forced down, a marked message reaches a fallback, and the
primary is restored without the test message being backfilled to it. By default a drill stays
with the operators: nothing reaches the public page or feeds, announcements included."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from failover.client import Client
from failover.drill import run_drill
from tests.harness import eventually, start_daemon, write_config
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
                "--public", "--json", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0, err.decode()
            report = json.loads(out)
            assert report["passed"] is True
            states = {d["channel"]: d["state"] for d in report["deliveries"]}
            assert states == {"hook": "skipped", "backup": "delivered"}
            assert report["steps"]["first delivery"] > 0
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


async def test_an_internal_drill_never_reaches_the_public_page(tmp_path: Path) -> None:
    async with WebhookReceiver() as primary, WebhookReceiver() as ops:
        path = write_config(
            tmp_path,
            f"""
            [channels.hook]
            type = "webhook"
            url = "{primary.server.url}/hook"
            display_name = "Our platform"

            [channels.ops]
            type = "webhook"
            url = "{ops.server.url}/hook"

            [channels.status]
            type = "feed"

            [routes.default]
            tiers = [["hook"], ["status"]]
            failback = "backfill"

            [routes.default.announce]
            down = "We are having trouble reaching {{channel}}."
            up = "{{channel}} is reachable again."

            [alerts]
            channels = ["ops"]
            on = ["health"]
            """,
        )
        h = await start_daemon(path)
        try:
            first = await h.post(text="a real post before the drill")
            await h.wait_state(first["id"], "delivered")  # the primary is known to work
            primary.received.clear()
            client = Client(h.url, h.tokens["operator"])
            report = await run_drill(client, "hook", 1.0)
            assert report["passed"] and report["public"] is False
            assert {d["channel"]: d["state"] for d in report["deliveries"]} == {"ops": "delivered"}

            async def recovery_told() -> bool:
                return any("reachable again" in r.body["text"] for r in ops.delivered())

            await eventually(recovery_told)
            texts = [r.body["text"] for r in ops.delivered()]
            assert "[drill] We are having trouble reaching Our platform." in texts
            assert "[drill] Our platform is reachable again." in texts
            assert "[drill] failover test — please ignore" in texts
            assert any(t.startswith("[failover] [drill] channel hook is DOWN") for t in texts)
            # The public page and feeds: never a word of it.
            public = h.daemon.runtime.public_dir()
            assert public is not None
            assert json.loads((public / "items.json").read_text()) == []
            assert json.loads((public / "feed.json").read_text())["items"] == []
            assert primary.received == []
            _, events = await h.request("GET", "/api/v1/events?channel=hook")
            marked = {e["kind"] for e in events["items"] if e["detail"].get("drill")}
            assert {"channel.forced", "announce.down", "announce.up"} <= marked
            _, timeline = await h.request(
                "GET", f"/api/v1/events?message_id={report['message_id']}"
            )
            assert any(
                e["kind"] == "channel.forced" and e["detail"]["drill"] == "internal"
                for e in timeline["items"]
            )  # the test message's own timeline says it was a drill
            assert h.daemon.drills == {}  # over once the channel is back on auto
        finally:
            await h.daemon.stop()


async def test_an_internal_drill_without_alerts_says_what_to_do(tmp_path: Path) -> None:
    async with WebhookReceiver() as primary:
        path = write_config(
            tmp_path,
            f"""
            [channels.hook]
            type = "webhook"
            url = "{primary.server.url}/hook"

            [channels.status]
            type = "feed"

            [routes.default]
            tiers = [["hook"], ["status"]]
            """,
        )
        h = await start_daemon(path)
        try:
            env = {**os.environ, "FAILOVER_URL": h.url, "FAILOVER_TOKEN": h.tokens["operator"]}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "failover", "drill", "--channel", "hook", "--for", "1s",
                env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, err = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 2, err.decode()
            assert "configure [alerts], or pass --public" in err.decode()
            assert h.daemon.states["hook"].forced.value == "auto"  # given back all the same
            assert h.daemon.drills == {}
            public = h.daemon.runtime.public_dir()
            assert public is not None
            assert json.loads((public / "items.json").read_text()) == []
        finally:
            await h.daemon.stop()
