"""A leader cut off from the database (its link hangs, nothing is refused) stops deciding
before its lease can pass to another daemon, and the other daemon takes over within the lease,
with a CPU hog on every core."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest

from tests.e2e.cluster_copies import CpuHog
from tests.e2e.daemon_process import DaemonProcess
from tests.e2e.test_crash import make_token
from tests.harness import free_port
from tests.peers.postgres_db import throwaway_database
from tests.peers.tcp_proxy import FreezableProxy

pytestmark = pytest.mark.slow

LEASE = 3.0


def config(dsn: str, name: str, port: int) -> str:
    return f"""
    state_dir = "state-{name}"
    store = "{dsn}"
    leader_lease = "{LEASE:g}s"
    shutdown_grace = "1s"

    [api]
    listen = "127.0.0.1:{port}"

    [channels.hook]
    type = "webhook"
    url = "http://127.0.0.1:9/hook"

    [routes.default]
    tiers = [["hook"]]
    """


def log_time(daemon: DaemonProcess, event: str) -> datetime | None:
    """When the daemon last logged ``event``."""
    last = None
    for line in daemon.log().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == event:
            last = datetime.strptime(record["time"], "%Y-%m-%d %H:%M:%S,%f")
    return last


async def leads(s: aiohttp.ClientSession, url: str) -> list[str]:
    async with s.get(url + "/api/v1/status", timeout=aiohttp.ClientTimeout(total=2)) as r:
        body = await r.json()
    return [n["node"] for n in body["cluster"] if n["leads"]]


async def test_a_partitioned_leader_steps_down_before_another_takes_over(tmp_path: Path) -> None:
    with CpuHog(), throwaway_database() as dsn:
        parts = urlsplit(dsn)
        async with FreezableProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
            via_proxy = urlunsplit(
                parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}")
            )
            ports = [free_port(), free_port()]
            urls = [f"http://127.0.0.1:{p}" for p in ports]
            paths = []
            for name, store, port in (("a", via_proxy, ports[0]), ("b", dsn, ports[1])):
                (tmp_path / name).mkdir()
                path = tmp_path / name / "failover.toml"
                path.write_text(config(store, name, port))
                paths.append(path)
            a, b = DaemonProcess(paths[0]), DaemonProcess(paths[1])
            a.start()
            await a.wait_ready(urls[0], timeout=60)  # first up: a leads
            b.start()
            await b.wait_ready(urls[1], timeout=60)
            # Off the loop: the proxy runs on it, and a blocked loop is a partition of its own.
            token = await asyncio.to_thread(make_token, paths[1], "admin")
            try:
                async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
                    (leader,) = await leads(s, urls[1])
                    assert f":{a.proc.pid}:" in leader if a.proc else False

                    proxy.freeze()
                    frozen_at = time.monotonic()
                    while log_time(b, "cluster.leader") is None:
                        assert time.monotonic() - frozen_at < 30, "b never took over"
                        await asyncio.sleep(0.05)
                    took_over = time.monotonic() - frozen_at
                    (leader,) = await leads(s, urls[1])
                    assert b.proc is not None and f":{b.proc.pid}:" in leader

                    stepped_down = log_time(a, "cluster.follower")
                    b_leads = log_time(b, "cluster.leader")
                    assert stepped_down is not None, a.log()[-2000:]
                    assert b_leads is not None
                    margin = (b_leads - stepped_down).total_seconds()
                    assert margin > 0, f"a still led {-margin:.2f}s after b took over"
                    assert took_over <= LEASE + LEASE / 3 + 1, took_over
                    print(
                        f"\nleader partitioned: it stepped down {margin:.2f}s before the "
                        f"other daemon took over, {took_over:.2f}s after the cut (lease {LEASE:g}s)"
                    )
            finally:
                proxy.thaw()
                a.kill()
                b.terminate()
