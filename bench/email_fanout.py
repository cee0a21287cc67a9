"""Email fan-out: one announcement to 10,000 recipients (read from a file) through the email
adapter, beside a raw aiosmtplib loop doing the same batches over the same number of
connections, against the same local aiosmtpd sink. Prints time, recipients per second,
connections used and the Python memory peak of each leg (tracemalloc), then one JSON line.

    .venv/bin/python bench/email_fanout.py [--recipients 10000] [--batch 50] [--connections 4]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosmtplib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from channels.base import ChannelContext, Post  # noqa: E402
from channels.email_message import build  # noqa: E402
from channels.smtp import EmailChannel, EmailOptions  # noqa: E402
from tests.peers.smtp_server import Sink, smtp_server  # noqa: E402

SENDER = "Acme Status <status@acme.example>"


def post() -> Post:
    return Post(
        message_id=1, key="m1-mail-1", title="Service notice",
        text="Our X account is unreachable; updates continue at https://status.acme.example/",
        created_at=datetime.now(UTC),
    )  # fmt: skip


async def adapter_leg(
    port: int, rcpt_file: Path, batch: int, conns: int, tmp: Path
) -> dict[str, Any]:
    ch = EmailChannel(
        ChannelContext(name="mail", state_dir=tmp),
        EmailOptions(host="127.0.0.1", port=port, security="none", from_address=SENDER,
                     recipients_file=rcpt_file, batch_size=batch, max_connections=conns),
    )  # fmt: skip
    await ch.open()
    updates = 0

    async def progress(_: Any) -> None:
        nonlocal updates
        updates += 1

    tracemalloc.start()
    t = time.perf_counter()
    got = await ch.send(Post(**{**post().__dict__, "on_progress": progress}))
    elapsed = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "seconds": elapsed,
        "peak_mb": peak / 2**20,
        "note": got.note,
        "progress_updates": updates,
    }


async def raw_leg(port: int, rcpt_file: Path, batch: int, conns: int) -> dict[str, Any]:
    raw = build(post(), SENDER).as_bytes()
    tracemalloc.start()
    t = time.perf_counter()
    lines = (line.strip() for line in rcpt_file.open())
    lock = asyncio.Lock()

    async def worker() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        while True:
            async with lock:
                chunk = list(itertools.islice(lines, batch))
            if not chunk:
                break
            await client.sendmail("status@acme.example", chunk, raw)
        await client.quit()

    await asyncio.gather(*(worker() for _ in range(conns)))
    elapsed = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"seconds": elapsed, "peak_mb": peak / 2**20}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipients", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--connections", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rcpt_file = tmp / "list.txt"
        rcpt_file.write_text("".join(f"customer{i}@example.org\n" for i in range(args.recipients)))
        sink = Sink()
        with smtp_server(sink) as port:
            raw = await raw_leg(port, rcpt_file, args.batch, args.connections)
            raw_conns, raw_rcpts = sink.connections, len(sink.rcpts())
            sink.received.clear()
            sink.connections = sink.peak_connections = 0
            ours = await adapter_leg(port, rcpt_file, args.batch, args.connections, tmp)
            our_conns, our_peak, our_rcpts = (
                sink.connections,
                sink.peak_connections,
                len(sink.rcpts()),
            )
    assert raw_rcpts == our_rcpts == args.recipients, (raw_rcpts, our_rcpts)
    n = args.recipients
    print(
        f"\n{n} recipients, batches of {args.batch}, {args.connections} connections, local aiosmtpd"
    )
    print(f"{'leg':<22} {'seconds':>8} {'rcpt/s':>9} {'conns':>6} {'py peak MB':>11}")
    print(
        f"{'raw aiosmtplib loop':<22} {raw['seconds']:>8.2f} {n / raw['seconds']:>9.0f} {raw_conns:>6} {raw['peak_mb']:>11.2f}"
    )
    print(
        f"{'email adapter':<22} {ours['seconds']:>8.2f} {n / ours['seconds']:>9.0f} {our_conns:>6} {ours['peak_mb']:>11.2f}"
    )
    print(
        f"adapter: {ours['note']}; {ours['progress_updates']} progress updates; peak connections {our_peak}"
    )
    print(json.dumps({
        "recipients": n, "adapter_rcpt_per_s": round(n / ours["seconds"], 1),
        "raw_rcpt_per_s": round(n / raw["seconds"], 1),
        "ratio": round(raw["seconds"] / ours["seconds"], 3), "connections": our_conns,
        "adapter_peak_mb": round(ours["peak_mb"], 2), "raw_peak_mb": round(raw["peak_mb"], 2),
    }))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
