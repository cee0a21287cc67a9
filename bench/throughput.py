"""End-to-end delivery throughput: the daemon against a plain aiohttp loop, same endpoint, same run.

The daemon leg posts N messages to the API of a real daemon subprocess (SQLite store, fsync on
every commit) and times from the first POST to the N-th arrival at a local webhook receiver.
The raw leg sends the same N JSON bodies straight to the same receiver with a plain aiohttp
loop at the same concurrency. Prints a table and, last, one JSON line.

    .venv/bin/python bench/throughput.py [--n 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.daemon_process import DaemonProcess  # noqa: E402
from tests.harness import write_config  # noqa: E402
from tests.peers.webhook_receiver import WebhookReceiver  # noqa: E402


async def wait_count(receiver: WebhookReceiver, n: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while len(receiver.received) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(receiver.received)} of {n} arrived")
        await asyncio.sleep(0.002)


async def raw_leg(receiver: WebhookReceiver, n: int, concurrency: int) -> float:
    """The same N requests with a plain aiohttp loop, ``concurrency`` at a time."""
    start_count = len(receiver.received)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    url = receiver.server.url + "/hook"

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            body = {"id": f"raw-{i}", "message_id": i, "text": f"benchmark message {i}"}
            async with session.post(url, json=body, headers={"Idempotency-Key": f"raw-{i}"}) as r:
                assert r.status == 200
                await r.read()

    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    assert len(receiver.received) - start_count == n
    return elapsed


async def daemon_leg(
    receiver: WebhookReceiver, n: int, concurrency: int, workdir: Path
) -> tuple[float, float]:
    """Returns (seconds from first POST to N-th arrival, seconds to accept all N)."""
    config = write_config(
        workdir,
        f"""
        [log]
        level = "warning"

        [channels.hook]
        type = "webhook"
        url = "{receiver.server.url}/hook"
        concurrency = {concurrency}

        [routes.default]
        tiers = [["hook"]]
        """,
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "failover",
            "token",
            "create",
            "--role",
            "publisher",
            "--name",
            "bench",
            "-c",
            str(config),
            "--json",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    token = json.loads(out.stdout)["token"]
    daemon = DaemonProcess(config)
    daemon.start()
    url = "http://" + config.read_text().split('listen = "')[1].split('"')[0]
    try:
        await daemon.wait_ready(url)
        start_count = len(receiver.received)
        sem = asyncio.Semaphore(32)
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:

            async def post(i: int) -> None:
                async with (
                    sem,
                    s.post(url + "/api/v1/messages", json={"text": f"benchmark message {i}"}) as r,
                ):
                    assert r.status == 201, await r.text()

            t0 = time.perf_counter()
            await asyncio.gather(*(post(i) for i in range(n)))
            accepted = time.perf_counter() - t0
            await wait_count(receiver, start_count + n)
            elapsed = time.perf_counter() - t0
    finally:
        daemon.terminate()
    return elapsed, accepted


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    async with WebhookReceiver() as receiver:
        await raw_leg(receiver, 100, args.concurrency)  # warm-up
        raw = await raw_leg(receiver, args.n, args.concurrency)
        with tempfile.TemporaryDirectory() as tmp:
            daemon, accepted = await daemon_leg(receiver, args.n, args.concurrency, Path(tmp))
    raw_rate, daemon_rate = args.n / raw, args.n / daemon
    rows = [
        ("raw aiohttp loop", raw, raw_rate),
        ("failover daemon (sqlite), end to end", daemon, daemon_rate),
        ("failover API accept only", accepted, args.n / accepted),
    ]
    print(
        f"\n{args.n} messages, channel concurrency {args.concurrency}, one local webhook receiver"
    )
    print(f"{'leg':<40} {'seconds':>8} {'msg/s':>9}")
    for name, secs, rate in rows:
        print(f"{name:<40} {secs:>8.2f} {rate:>9.1f}")
    print(f"{'ratio daemon / raw':<40} {'':>8} {daemon_rate / raw_rate:>9.3f}")
    print(
        json.dumps(
            {
                "daemon_per_s": round(daemon_rate, 1),
                "raw_per_s": round(raw_rate, 1),
                "ratio": round(daemon_rate / raw_rate, 3),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
