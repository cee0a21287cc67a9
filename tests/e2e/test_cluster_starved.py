"""A live daemon's claim lapsing mid-send, with a CPU hog on every core.

- A send that outlasts the claim lease is not sent again by anyone: its daemon renews the
  claim while the send runs.
- A daemon starved completely (SIGSTOP, longer than the lease) loses its claims to another
  daemon. When it runs again, it sends nothing under a lost claim and its outcomes are
  refused (fenced on the claim epoch); the only copies sent twice are the ones it had in
  flight when it stopped, each traced to its claim (the bound in docs/high-availability.md).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.cluster_copies import (
    Claim,
    CpuHog,
    at_risk,
    copies_by_delivery,
    explain,
    extra_copies,
    fenced_events,
)
from tests.e2e.daemon_process import DaemonProcess
from tests.e2e.test_crash import make_token
from tests.harness import free_port
from tests.peers.faults import Fault
from tests.peers.postgres_db import throwaway_database
from tests.peers.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.slow

LEASE = 3.0


def config(dsn: str, name: str, port: int, hook: str) -> str:
    return f"""
    state_dir = "state-{name}"
    store = "{dsn}"
    claim_lease = "{LEASE:g}s"
    leader_lease = "3s"
    shutdown_grace = "1s"

    [api]
    listen = "127.0.0.1:{port}"

    [log]
    level = "warning"

    [retry]
    initial = "200ms"
    max_backoff = "1s"
    jitter = "100ms"

    [channels.hook]
    type = "webhook"
    url = "{hook}/hook"
    concurrency = 8

    [routes.default]
    tiers = [["hook"]]
    """


class Pair:
    """Two daemons on one database, sending to one webhook receiver."""

    def __init__(self, dsn: str, hook: WebhookReceiver, daemons: list[DaemonProcess]) -> None:
        self.dsn, self.hook, self.daemons = dsn, hook, daemons
        self.urls: list[str] = []
        self.nodes: list[str] = []
        self.token = ""

    async def post(self, s: aiohttp.ClientSession, n: int) -> None:
        for i in range(n):
            async with s.post(f"{self.urls[0]}/api/v1/messages", json={"text": f"m{i}"}) as r:
                assert r.status == 201, await r.text()

    async def all_delivered(self, n: int, timeout: float = 90) -> Counter[str]:
        deadline = time.monotonic() + timeout
        while True:
            texts = Counter(r.body["text"] for r in self.hook.delivered())
            if len(texts) == n or time.monotonic() > deadline:
                return texts
            await asyncio.sleep(0.2)


@asynccontextmanager
async def pair(tmp_path: Path, delay: float) -> AsyncIterator[Pair]:
    with CpuHog(), throwaway_database() as dsn:
        async with WebhookReceiver() as hook:
            hook.server.set_fault(Fault.SLOW, delay=delay)
            ports = [free_port(), free_port()]
            daemons = []
            for name, port in zip("ab", ports, strict=True):
                path = tmp_path / f"{name}.toml"
                path.write_text(config(dsn, name, port, hook.server.url))
                daemons.append(DaemonProcess(path))
            p = Pair(dsn, hook, daemons)
            p.urls = [f"http://127.0.0.1:{port}" for port in ports]
            try:
                for d, url in zip(daemons, p.urls, strict=True):
                    d.start()
                    await d.wait_ready(url, timeout=60)
                p.token = await asyncio.to_thread(make_token, daemons[0].config, "admin")
                async with aiohttp.ClientSession() as s:
                    auth = {"Authorization": f"Bearer {p.token}"}
                    async with s.get(f"{p.urls[0]}/api/v1/status", headers=auth) as r:
                        nodes = [n["node"] for n in (await r.json())["cluster"]]
                for d in daemons:
                    assert d.proc is not None
                    p.nodes.append(next(n for n in nodes if f":{d.proc.pid}:" in n))
                yield p
            finally:
                for d in daemons:
                    if d.proc is not None and d.proc.poll() is None:
                        d.thaw()
                        d.terminate()


def fenced(daemon: DaemonProcess) -> dict[Claim, str]:
    """The claims a daemon found lost, from its ``delivery.fenced`` log lines: what it did."""
    out = {}
    for line in daemon.log().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == "delivery.fenced":
            out[(int(record["delivery_id"]), int(record["claim_epoch"]))] = record["what"]
    return out


async def test_a_send_longer_than_the_claim_lease_is_not_sent_twice(tmp_path: Path) -> None:
    """Every send takes 1.25 leases (still within the send timeout): without renewal every
    claim would lapse mid-send and the other daemon would post it again."""
    n = 12
    async with pair(tmp_path, delay=1.25 * LEASE) as p:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {p.token}"}) as s:
            await p.post(s, n)
            await p.all_delivered(n)
        await asyncio.sleep(2 * LEASE)  # a lapsed claim would be taken over and sent by now
        texts = Counter(r.body["text"] for r in p.hook.delivered())
        copies = copies_by_delivery(p.dsn, p.hook.delivered())
    names = {p.nodes[0]: "a", p.nodes[1]: "b"}
    assert len(texts) == n, texts
    assert max(texts.values()) == 1, explain(copies, names)
    assert all(c.recorded == "delivered" for cs in copies.values() for c in cs)
    print(f"\n{n} sends of {1.25 * LEASE:g}s each with a {LEASE:g}s claim lease: none twice")


async def test_a_frozen_daemon_is_fenced_and_only_its_half_done_sends_repeat(
    tmp_path: Path,
) -> None:
    n = 60
    freeze_for = 3 * LEASE
    async with pair(tmp_path, delay=0.5) as p:
        a = p.daemons[0]
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {p.token}"}) as s:
            await p.post(s, n)
            deadline = time.monotonic() + 30
            while not await asyncio.to_thread(at_risk, p.dsn, p.nodes[0]):
                assert time.monotonic() < deadline, "a never claimed anything"
                await asyncio.sleep(0.02)
            a.freeze()
            await asyncio.sleep(0.3)  # statements a sent before it stopped land first
            risk = await asyncio.to_thread(at_risk, p.dsn, p.nodes[0])
            await asyncio.sleep(freeze_for)
            a.thaw()
            texts = await p.all_delivered(n)
            await asyncio.sleep(LEASE)  # a's stale tasks have run to their end
            copies = copies_by_delivery(p.dsn, p.hook.delivered())
            recorded = fenced_events(p.dsn)
        refused = fenced(a)
    names = {p.nodes[0]: "frozen a", p.nodes[1]: "b"}
    assert len(texts) == n, texts
    extra = [c for cs in extra_copies(copies).values() for c in cs]
    assert sum(k - 1 for k in texts.values()) == len(extra), explain(copies, names)
    # The bound: each extra copy was sent by a under a claim it held when it stopped.
    assert all(c.node == p.nodes[0] and c.claim in risk for c in extra), explain(copies, names)
    assert len(extra) <= len(risk)
    # Every claim b took over while a was stopped: a sent nothing more under it, and the
    # outcome it came back with was refused.
    taken = {c.claim for cs in copies.values() for c in cs if c.node == p.nodes[1]}
    taken_from_a = {(d, e) for d, e in risk if any(t[0] == d for t in taken)}
    assert taken_from_a, "b took nothing over: the test did not exercise the fence"
    assert taken_from_a <= set(refused), (taken_from_a, refused)
    assert taken_from_a <= set(recorded), recorded  # and left in the store, for the audit
    late = [
        c
        for cs in copies.values()
        for c in cs
        if c.node == p.nodes[0] and c.claim in taken_from_a and refused[c.claim] == "not sent"
    ]
    assert not late, late
    print(
        f"\na frozen for {freeze_for:g}s (claim lease {LEASE:g}s) with {len(risk)} deliveries "
        f"half-done: b took {len(taken_from_a)} over, a's outcomes refused "
        f"{sum(1 for c in taken_from_a if refused[c] != 'not sent')}, not sent "
        f"{sum(1 for c in taken_from_a if refused[c] == 'not sent')}; duplicates {len(extra)}"
        f"\n{explain(copies, names)}"
    )
