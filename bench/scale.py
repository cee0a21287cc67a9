"""Queue scale: does a long queue of scheduled messages slow what operators and clients see?

Two phases against one daemon subprocess on SQLite (a webhook channel to a local receiver):
first with an empty queue, then with ``--messages`` (100,000) messages scheduled a day ahead.
The scheduled messages are written through the store API (``Store.create_message``, the call
intake makes for every POST, with its delivery and ``message.accepted`` event) before the daemon
starts, because 100,000 HTTP POSTs take too long for a bench. In each phase it measures, as
medians: an immediate post's accept-to-arrival latency (POST to the receiver seeing it),
``GET /api/v1/messages?limit=50``, ``GET /api/v1/status`` and the dashboard (``/ui/``, logged in),
with at least 50 delivered posts in both phases so both lists return a full page;
and, with the queue, start-up time to READY=1 and resident memory. Prints a table and, last,
one JSON line. Target: every ratio (full / empty) at most 1.5.

    .venv/bin/python bench/scale.py [--messages 100000] [--samples 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from footprint import rss_mb, start_until_ready  # noqa: E402
from throughput import daemon_config, publisher_token, wait_count  # noqa: E402

from failover.config import load_config  # noqa: E402
from failover.model import DeliveryState, NewMessage  # noqa: E402
from failover.store import open_store  # noqa: E402
from failover.store.base import NewDelivery, NewEvent  # noqa: E402
from tests.peers.webhook_receiver import WebhookReceiver  # noqa: E402
from tests.web.web_session import login  # noqa: E402

FIGURES = ("latency", "list", "status", "dashboard")
PAGE = 50  # the list's page size: the empty queue still has this many delivered posts


async def fill(config: Path, n: int) -> float:
    """Store ``n`` messages scheduled a day ahead, as intake would; return seconds taken."""
    store = open_store(load_config(config))
    await store.open()
    t0 = time.perf_counter()
    try:
        now = datetime.now(UTC)
        due = now + timedelta(days=1)
        sem = asyncio.Semaphore(16)

        async def one(i: int) -> None:
            new = NewMessage(text=f"scheduled notice {i}", route="default",
                             created_by="token:bench", scheduled_at=due)  # fmt: skip
            event = NewEvent("message.accepted", actor="token:bench",
                             detail={"route": "default", "channels": ["hook"], "skipped": {},
                                     "scheduled_at": due.isoformat()})  # fmt: skip
            async with sem:
                await store.create_message(
                    new, [NewDelivery("hook", 0, DeliveryState.PENDING, due)], [event], now
                )

        for start in range(0, n, 1000):
            await asyncio.gather(*(one(i) for i in range(start, min(n, start + 1000))))
    finally:
        await store.close()
    return time.perf_counter() - t0


async def median_ms(call: Callable[[], Awaitable[None]], samples: int) -> float:
    await call()  # warm-up: first-use caches and template compilation are not what we measure
    times = []
    for _ in range(samples):
        t = time.perf_counter()
        await call()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


async def measure(
    receiver: WebhookReceiver, url: str, token: str, samples: int
) -> dict[str, float]:
    """Median milliseconds of each figure against a running daemon."""
    headers = {"Authorization": f"Bearer {token}"}
    ui, _csrf = await login(url, token)
    async with aiohttp.ClientSession(headers=headers) as s, ui:

        async def post() -> None:
            before = len(receiver.received)
            async with s.post(url + "/api/v1/messages", json={"text": "right now"}) as r:
                assert r.status == 201, await r.text()
            await wait_count(receiver, before + 1, timeout=60)

        def get(session: aiohttp.ClientSession, path: str) -> Callable[[], Awaitable[None]]:
            async def call() -> None:
                async with session.get(url + path) as r:
                    assert r.status == 200, (path, r.status)
                    await r.read()

            return call

        latency = await median_ms(post, samples)
        for _ in range(PAGE - samples - 1):  # both phases list a full page of delivered posts
            await post()
        return {
            "latency": latency,
            "list": await median_ms(get(s, "/api/v1/messages?limit=50"), samples),
            "status": await median_ms(get(s, "/api/v1/status"), samples),
            "dashboard": await median_ms(get(ui, "/ui/"), samples),
        }


async def phase(
    receiver: WebhookReceiver, workdir: Path, messages: int, samples: int
) -> dict[str, float]:
    config = daemon_config(workdir, receiver, 16, None)
    token = publisher_token(config)  # also creates the store
    url = "http://" + config.read_text().split('listen = "')[1].split('"')[0]
    fill_s = await fill(config, messages) if messages else 0.0
    daemon, ready_s = await start_until_ready(config)
    try:
        await daemon.wait_ready(url, timeout=60)
        figures = await measure(receiver, url, token, samples)
        assert daemon.proc is not None
        figures.update(ready_s=ready_s, rss_mb=rss_mb(daemon.proc.pid), fill_s=fill_s)
    finally:
        daemon.terminate()
    return figures


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100_000, help="scheduled messages")
    ap.add_argument("--samples", type=int, default=20, help="timed requests per figure")
    args = ap.parse_args()
    async with WebhookReceiver() as receiver:
        with tempfile.TemporaryDirectory() as tmp:
            empty = await phase(receiver, Path(tmp) / "empty", 0, args.samples)
            full = await phase(receiver, Path(tmp) / "full", args.messages, args.samples)
    print(
        f"\nSQLite daemon, one webhook channel; {args.messages} messages scheduled a day ahead"
        f" (stored through Store.create_message in {full['fill_s']:.0f} s, not over HTTP);"
        f" medians of {args.samples}"
    )
    print(f"{'figure':<34} {'empty':>9} {'full':>9} {'ratio':>7}  target")
    labels = {"latency": "post accept-to-arrival (ms)", "list": "GET messages?limit=50 (ms)",
              "status": "GET status (ms)", "dashboard": "dashboard /ui/ (ms)"}  # fmt: skip
    out: dict[str, float] = {}
    for key in FIGURES:
        ratio = full[key] / empty[key]
        out[f"{key}_ratio"] = round(ratio, 2)
        out[f"{key}_ms"] = round(full[key], 2)
        print(f"{labels[key]:<34} {empty[key]:>9.2f} {full[key]:>9.2f} {ratio:>7.2f}  <= 1.5")
    for key, label in (("ready_s", "time to READY=1 (s)"), ("rss_mb", "resident memory (MB)")):
        print(
            f"{label:<34} {empty[key]:>9.2f} {full[key]:>9.2f} {full[key] / empty[key]:>7.2f}  flat"
        )
    out.update(ready_s=round(full["ready_s"], 3), rss_mb=round(full["rss_mb"], 1),
               messages=args.messages)  # fmt: skip
    order = ("latency_ratio", "list_ratio", "status_ratio", "ready_s", "rss_mb")
    print(json.dumps({**{k: out[k] for k in order}, **out}))


if __name__ == "__main__":
    asyncio.run(main())
