"""Three daemons on one PostgreSQL database, with a CPU hog on every core: the leader is
killed, another is stopped and restarted, while 2,000 messages go out. Nothing is lost,
nothing is posted twice where the platform takes an idempotency key, leadership moves within
the lease, and every webhook copy sent twice is traced to its daemon and claim: each extra
copy comes from a claim the killed daemon held at the kill or the stopped one released
unfinished, never from a live daemon's lapsed claim."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
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
)
from tests.e2e.daemon_process import DaemonProcess
from tests.e2e.test_crash import make_token
from tests.harness import free_port
from tests.peers.faults import Fault
from tests.peers.mastodon_api import TOKEN, MastodonPeer
from tests.peers.postgres_db import throwaway_database
from tests.peers.webhook_receiver import WebhookReceiver
from tests.secrets_registry import secret

pytestmark = pytest.mark.slow

MESSAGES = 2000
LEADER_LEASE = 3.0
secret(TOKEN)


def config(dsn: str, name: str, port: int, masto: str, hook: str) -> str:
    return f"""
    state_dir = "state-{name}"
    store = "{dsn}"
    claim_lease = "8s"
    leader_lease = "{LEADER_LEASE:g}s"
    shutdown_grace = "3s"

    [api]
    listen = "127.0.0.1:{port}"

    [log]
    level = "warning"

    [retry]
    initial = "200ms"
    max_backoff = "1s"
    jitter = "100ms"

    [channels.masto]
    type = "mastodon"
    api_base_url = "{masto}"
    access_token = "${{MASTO_TOKEN}}"
    concurrency = 8

    [channels.hook]
    type = "webhook"
    url = "{hook}/hook"
    concurrency = 8

    [routes.default]
    mode = "broadcast"
    tiers = [["masto", "hook"]]
    """


async def status(s: aiohttp.ClientSession, url: str, token: str) -> dict[str, object] | None:
    try:
        async with s.get(f"{url}/api/v1/status", headers={"Authorization": f"Bearer {token}"},
                         timeout=aiohttp.ClientTimeout(total=2)) as r:  # fmt: skip
            return dict(await r.json()) if r.status == 200 else None
    except (aiohttp.ClientError, TimeoutError):
        return None


async def leader_of(s: aiohttp.ClientSession, urls: list[str], token: str) -> str | None:
    for url in urls:
        st = await status(s, url, token)
        if st:
            for node in st["cluster"]:  # type: ignore[attr-defined]
                if node["leads"]:
                    return str(node["node"])
    return None


def released_at_stop(daemon: DaemonProcess) -> set[Claim]:
    """The claims a clean stop gave back unfinished (its ``delivery.released`` log line)."""
    out: set[Claim] = set()
    for line in daemon.log().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == "delivery.released":
            out |= {(int(d), int(e)) for d, e in record["claims"]}
    return out


async def test_three_daemons_one_database(tmp_path: Path) -> None:
    with CpuHog(), throwaway_database() as dsn:
        async with MastodonPeer() as masto, WebhookReceiver() as hook:
            hook.server.set_fault(Fault.SLOW, delay=0.02)  # keep sends in flight
            masto.state.limit = 10 * MESSAGES  # an instance with a raised limit (default 300/5 min)
            ports = [free_port() for _ in range(3)]
            urls = [f"http://127.0.0.1:{p}" for p in ports]
            paths = []
            for i, port in enumerate(ports):
                path = tmp_path / f"d{i}.toml"
                path.write_text(config(dsn, f"d{i}", port, masto.url, hook.server.url))
                paths.append(path)
            env = {"MASTO_TOKEN": TOKEN}
            daemons = [DaemonProcess(p, env=env) for p in paths]
            for d in daemons:
                d.start()
            for d, url in zip(daemons, urls, strict=True):
                await d.wait_ready(url, timeout=60)
            token = make_token(paths[0], "admin")  # one database: valid on every daemon

            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
                owners = {}
                for url in urls:
                    st = await status(s, url, token)
                    assert st is not None
                    owners[url] = {n["node"] for n in st["cluster"]}  # type: ignore[attr-defined]
                assert all(len(v) == 3 for v in owners.values())
                leader = await leader_of(s, urls, token)
                assert leader is not None
                pid_of = {d.proc.pid: i for i, d in enumerate(daemons) if d.proc}
                node_of = {
                    i: n for n in owners[urls[0]] for pid, i in pid_of.items() if f":{pid}:" in n
                }
                leader_index = next(i for pid, i in pid_of.items() if f":{pid}:" in leader)
                other_index = (leader_index + 1) % 3
                names = {node_of[leader_index]: f"killed d{leader_index}",
                         node_of[other_index]: f"stopped d{other_index}"}  # fmt: skip
                sem = asyncio.Semaphore(24)
                accepted: list[int] = []
                kill_at, restart_at = MESSAGES // 3, 2 * MESSAGES // 3
                killed_at = 0.0
                risk_at_kill: set[Claim] = set()

                async def post(i: int) -> None:
                    for attempt in range(20):
                        url = urls[(i + attempt) % 3]
                        if (i + attempt) % 3 == leader_index and killed_at:
                            continue  # that daemon is gone
                        try:
                            async with sem, s.post(f"{url}/api/v1/messages", json={"text": f"cluster {i}"},
                                                   headers={"Idempotency-Key": f"k{i}"}) as r:  # fmt: skip
                                if r.status in (200, 201):
                                    accepted.append(int((await r.json())["id"]))
                                    return
                        except aiohttp.ClientError:
                            pass
                        await asyncio.sleep(0.2)
                    raise AssertionError(f"message {i} was never accepted")

                async def chaos() -> None:
                    nonlocal killed_at, risk_at_kill
                    while len(accepted) < kill_at:
                        await asyncio.sleep(0.02)
                    daemons[leader_index].kill()
                    killed_at = time.monotonic()
                    # Dead now: its half-done set is frozen until its claims lapse.
                    risk_at_kill = await asyncio.to_thread(at_risk, dsn, leader)
                    while len(accepted) < restart_at:
                        await asyncio.sleep(0.02)
                    stopped = await asyncio.to_thread(daemons[other_index].terminate)
                    assert stopped == 0  # a clean stop...
                    daemons[other_index].start()  # ...and back
                    await daemons[other_index].wait_ready(urls[other_index], timeout=60)

                async def leadership_moves() -> float:
                    while not killed_at:
                        await asyncio.sleep(0.01)
                    survivors = [u for i, u in enumerate(urls) if i != leader_index]
                    while (await leader_of(s, survivors, token)) in (None, leader):
                        assert time.monotonic() - killed_at < 60, "nobody took over"
                        await asyncio.sleep(0.1)
                    return time.monotonic() - killed_at

                watcher = asyncio.create_task(leadership_moves())
                chaos_task = asyncio.create_task(chaos())
                await asyncio.gather(*(post(i) for i in range(MESSAGES)))
                await chaos_task

                moved_after = await watcher
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    texts = Counter(st["text"] for st in masto.state.statuses)
                    hooks = Counter(r.body["text"] for r in hook.delivered())
                    if len(texts) == MESSAGES and len(hooks) == MESSAGES:
                        break
                    await asyncio.sleep(0.5)
            for i, d in enumerate(daemons):
                if i != leader_index:
                    d.terminate()
            risk_at_stop = released_at_stop(daemons[other_index])
            copies = copies_by_delivery(dsn, hook.delivered())

    assert len(set(accepted)) == MESSAGES
    texts = Counter(st["text"] for st in masto.state.statuses)
    hooks = Counter(r.body["text"] for r in hook.delivered())
    assert len(texts) == MESSAGES and len(hooks) == MESSAGES, (len(texts), len(hooks))
    assert max(texts.values()) == 1  # Mastodon: the Idempotency-Key holds across daemons
    twice = sum(n - 1 for n in hooks.values())
    extra = [c for cs in extra_copies(copies).values() for c in cs]
    assert len(extra) == twice, explain(copies, names)
    # The bound: every extra copy was sent under a claim that the killed daemon held at the
    # kill, or that the stopped one gave back unfinished. None from a live daemon's claim.
    unexplained = [c for c in extra if c.claim not in risk_at_kill | risk_at_stop]
    assert not unexplained, (unexplained, explain(copies, names))
    assert twice <= len(risk_at_kill) + len(risk_at_stop)
    assert moved_after <= 2 * LEADER_LEASE + 1, moved_after
    print(f"\n3 daemons, {MESSAGES} messages x 2 channels, CPU hog on every core: leader killed "
          f"with {len(risk_at_kill)} deliveries half-done, {len(risk_at_stop)} released by the "
          f"clean stop; webhook duplicates {twice}; Mastodon duplicates 0; leadership moved "
          f"after {moved_after:.2f}s (lease {LEADER_LEASE:g}s)\n{explain(copies, names)}")  # fmt: skip
