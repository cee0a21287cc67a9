"""Idle footprint and start-up time of the daemon.

Starts a real daemon subprocess with 10 channels, each probed over HTTP every 5 s against a
local server; measures the time from exec to READY=1 (sd_notify over a real datagram socket),
then the resident memory after a minute idle and the CPU seconds used during that minute
(from /proc). Prints a table and, last, one JSON line.

    .venv/bin/python bench/footprint.py [--idle 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.daemon_process import DaemonProcess  # noqa: E402
from tests.harness import write_config  # noqa: E402
from tests.peers.webhook_receiver import WebhookReceiver  # noqa: E402

CHANNELS = 10
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def start_until_ready(config: Path) -> tuple[DaemonProcess, float]:
    """Start the daemon as a subprocess; return it and the seconds until it sent READY=1."""
    sock_path = config.parent / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.setblocking(False)  # peers answering the daemon may share this event loop
    loop = asyncio.get_running_loop()
    daemon = DaemonProcess(config, env={"NOTIFY_SOCKET": str(sock_path)})
    t0 = time.perf_counter()
    daemon.start()
    try:
        while b"READY=1" not in await asyncio.wait_for(loop.sock_recv(sock, 4096), 60):
            pass
    finally:
        sock.close()
    return daemon, time.perf_counter() - t0


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle", type=float, default=60.0)
    args = ap.parse_args()
    async with WebhookReceiver() as receiver:
        with tempfile.TemporaryDirectory() as tmp:
            body = "".join(
                f"""
                [channels.hook{i}]
                type = "webhook"
                url = "{receiver.server.url}/hook{i}"

                [channels.hook{i}.health]
                probes = [{{kind = "http", url = "{receiver.server.url}/health", interval = "5s", timeout = "2s", expect_status = 404}}]
                """
                for i in range(CHANNELS)
            )
            tiers = ", ".join(f'["hook{i}"]' for i in range(CHANNELS))
            body += f'\n[log]\nlevel = "warning"\n\n[routes.default]\ntiers = [{tiers}]\n'
            config = write_config(Path(tmp), body)
            daemon, ready_s = await start_until_ready(config)
            assert daemon.proc is not None
            pid = daemon.proc.pid
            cpu0 = cpu_seconds(pid)
            await asyncio.sleep(args.idle)
            cpu = cpu_seconds(pid) - cpu0
            rss = rss_mb(pid)
            probes = sum(1 for method, path in receiver.server.requests if path == "/health")
            daemon.terminate()
    per_min = cpu * 60 / args.idle
    print(f"\ndaemon with {CHANNELS} channels, each probed every 5s; idle {args.idle:g}s")
    print(f"{'figure':<32} {'value':>10}  target")
    print(f"{'time to READY=1 (s)':<32} {ready_s:>10.3f}  < 1.5")
    print(f"{'resident memory (MB)':<32} {rss:>10.1f}  < 80")
    print(f"{'CPU s per idle minute':<32} {per_min:>10.3f}  < 0.6")
    print(f"{'probes answered while idle':<32} {probes:>10d}")
    print(
        json.dumps(
            {
                "ready_s": round(ready_s, 3),
                "rss_mb": round(rss, 1),
                "idle_cpu_s_per_min": round(per_min, 3),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
