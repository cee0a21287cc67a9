"""ActivityPub fan-out: one Create(Note) to the inboxes of many followers on many servers,
through the daemon's per-inbox queue (SQLite store, claims, RSA-signed POSTs, one ledger row
per inbox), beside a raw aiohttp loop that signs and POSTs the same requests with the same
concurrency. The servers are one local aiohttp sink reached at 127.0.0.N (N = host), so each
host is distinct, as different instances are. Prints both legs, then one JSON line.

    .venv/bin/python bench/activitypub_fanout.py [--inboxes 2000] [--hosts 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from channels.activitypub.delivery import SigningKey, post_activity  # noqa: E402
from channels.activitypub.signatures import new_private_key  # noqa: E402
from failover.activitypub.sender import InboxSender  # noqa: E402
from failover.clock import SystemClock  # noqa: E402
from failover.store.fediverse import Follower, Publication  # noqa: E402
from failover.store.sqlite import SqliteStore  # noqa: E402

CONCURRENCY, PER_HOST = 16, 4
BODY = json.dumps({
    "@context": "https://www.w3.org/ns/activitystreams",
    "id": "https://status.acme.example/users/status/posts/1/activity", "type": "Create",
    "actor": "https://status.acme.example/users/status",
    "object": {"id": "https://status.acme.example/users/status/posts/1", "type": "Note",
               "content": "<p>Checkout is down; updates here.</p>"},
})  # fmt: skip


async def sink(port: int) -> tuple[web.AppRunner, dict[str, int]]:
    seen: dict[str, int] = {"posts": 0}

    async def inbox(request: web.Request) -> web.Response:
        await request.read()
        seen["posts"] += 1
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/users/{name}/inbox", inbox)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()  # reached as 127.0.0.N: one per host
    return runner, seen


def inboxes(n: int, hosts: int, port: int) -> list[str]:
    return [f"http://127.0.0.{2 + i % hosts}:{port}/users/u{i}/inbox" for i in range(n)]


async def queue_leg(targets: list[str], key: SigningKey, tmp: Path) -> dict[str, Any]:
    store = SqliteStore(tmp / "bench.db")
    await store.open()
    clock = SystemClock()
    now = clock.now()
    for url in targets:
        actor = url.removesuffix("/inbox")
        await store.ap_add_follower(
            Follower(actor, url, None, f"{actor}#f", "accepted", None, now), now
        )
    t = time.perf_counter()
    queued = await store.ap_publish(Publication("a1", BODY, 1), None, "unavailable", clock.now())
    publish_s = time.perf_counter() - t
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        sender = InboxSender(store, clock, "bench", key, session,
                             concurrency=CONCURRENCY, per_host=PER_HOST)  # fmt: skip
        task = asyncio.create_task(sender.run())
        t = time.perf_counter()
        while (await store.ap_delivery_counts(1)).get("delivered", 0) < queued:
            await asyncio.sleep(0.05)
        deliver_s = time.perf_counter() - t
        await sender.stop(task)
    counts = await store.ap_delivery_counts(1)
    await store.close()
    return {"queued": queued, "publish_s": publish_s, "deliver_s": deliver_s, "counts": counts}


async def raw_leg(targets: list[str], key: SigningKey) -> dict[str, Any]:
    gate = asyncio.Semaphore(CONCURRENCY)
    body = BODY.encode()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:

        async def one(url: str) -> None:
            async with gate:
                await post_activity(session, url, body, key, datetime.now(UTC))

        t = time.perf_counter()
        await asyncio.gather(*(one(u) for u in targets))
        return {"deliver_s": time.perf_counter() - t}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--inboxes", type=int, default=2000)
    ap.add_argument("--hosts", type=int, default=100)
    args = ap.parse_args()
    key = SigningKey("https://status.acme.example/users/status#main-key", new_private_key())
    from tests.harness import free_port

    port = free_port()
    runner, seen = await sink(port)
    targets = inboxes(args.inboxes, args.hosts, port)
    try:
        raw = await raw_leg(targets, key)
        raw_posts = seen["posts"]
        seen["posts"] = 0
        with tempfile.TemporaryDirectory() as tmp:
            ours = await queue_leg(targets, key, Path(tmp))
    finally:
        await runner.cleanup()
    assert raw_posts == seen["posts"] == args.inboxes, (raw_posts, seen["posts"])
    assert ours["counts"] == {"delivered": args.inboxes}, ours["counts"]
    ours_rate = args.inboxes / ours["deliver_s"]
    raw_rate = args.inboxes / raw["deliver_s"]
    print(
        f"{args.inboxes} inboxes on {args.hosts} hosts, {CONCURRENCY} in flight ({PER_HOST} per host)"
    )
    print(f"{'leg':<34}{'seconds':>10}{'inboxes/s':>12}")
    print(f"{'raw aiohttp loop, signed POSTs':<34}{raw['deliver_s']:>10.2f}{raw_rate:>12.0f}")
    print(f"{'daemon queue (SQLite, ledger)':<34}{ours['deliver_s']:>10.2f}{ours_rate:>12.0f}")
    print(f"{'  publish (queue all inboxes)':<34}{ours['publish_s']:>10.3f}")
    print(json.dumps({
        "inboxes": args.inboxes, "hosts": args.hosts,
        "raw_inboxes_per_s": round(raw_rate, 1), "queue_inboxes_per_s": round(ours_rate, 1),
        "publish_s": round(ours["publish_s"], 4), "queue_deliver_s": round(ours["deliver_s"], 2),
    }))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
