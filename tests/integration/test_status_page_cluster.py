"""Two daemons on one PostgreSQL database serve the same public page: every page, JSON
document and feed is byte-identical from both hosts, announcements included (they come from
the store, not from the feed channel's files on whichever host sent them)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import aiohttp
import pytest

from failover.statuspage.data import as_of
from tests.harness import Harness, free_port, start_daemon
from tests.peers.postgres_db import throwaway_database
from tests.status_seed import seed_demo

pytestmark = pytest.mark.slow

V2 = ["summary", "status", "components", "incidents", "incidents/unresolved",
      "scheduled-maintenances", "scheduled-maintenances/upcoming",
      "scheduled-maintenances/active"]  # fmt: skip


def host_config(directory: Path, dsn: str) -> Path:
    """One host of the cluster: its own port and state directory, the cluster's public URL."""
    directory.mkdir()
    path = directory / "failover.toml"
    path.write_text(textwrap.dedent(f"""
        state_dir = "state"
        store = "{dsn}"
        leader_lease = "3s"
        shutdown_grace = "3s"

        [api]
        listen = "127.0.0.1:{free_port()}"
        public_url = "https://status.acme.example"

        [channels.status]
        type = "feed"
        title = "Acme status"

        [routes.default]
        tiers = [["status"]]
        """))  # fmt: skip
    return path


async def snapshot(url: str, paths: list[str]) -> dict[str, bytes]:
    out = {}
    async with aiohttp.ClientSession() as s:
        for path in paths:
            async with s.get(url + path) as r:
                assert r.status == 200, (url, path)
                out[path] = await r.read()
    return out


async def test_two_daemons_serve_byte_identical_pages(tmp_path: Path) -> None:
    with throwaway_database() as dsn:
        a = await start_daemon(host_config(tmp_path / "a", dsn))
        b: Harness | None = None
        try:
            b = await start_daemon(host_config(tmp_path / "b", dsn), tokens=a.tokens)
            seeded = await seed_demo(a.daemon.store, a.daemon.clock.now())
            post = await a.post(text="Our new status page is live.")
            await a.wait_state(post["id"], "delivered")
            paths = ["/status/", "/status/history", f"/status/incidents/{seeded.active}",
                     f"/status/incidents/{seeded.resolved}", "/status/feed.atom",
                     "/status/feed.json", "/status/state.json",
                     *(f"/status/api/v2/{n}.json" for n in V2)]  # fmt: skip
            for _ in range(3):  # the uptime bars end at a 10-minute step: same step, same bytes
                step = as_of(a.daemon.clock.now())
                pages_a = await snapshot(a.url, paths)
                pages_b = await snapshot(b.url, paths)
                if as_of(a.daemon.clock.now()) == step:
                    break
            for path in paths:
                assert pages_a[path] == pages_b[path], path
            assert b"Our new status page is live." in pages_b["/status/"]
            assert b"A bad deploy" in pages_b["/status/feed.json"]
            assert a.url.encode() not in pages_a["/status/"]  # no host's own address
            assert b.url.encode() not in pages_b["/status/"]
        finally:
            if b is not None:
                await b.daemon.stop()
            await a.daemon.stop()
