"""Email fan-out: one announcement to 10,000 recipients (read from a file) four ways, against
two SMTP servers. The ways: failover's email adapter; a raw aiosmtplib loop doing the same
batches over the same number of connections; the adapter fed by status page subscribers
(``recipients_from``), one copy per recipient with its own List-Unsubscribe headers (RFC 8058); Apprise's ``mailto://`` with the same recipients,
which sends one message per recipient over one connection (only the first ``--apprise-max``,
1,000 by default, as it is slow). The servers: the in-process aiosmtpd sink the tests use, and
Postfix's ``smtp-sink`` in its own process, so the server is no longer the ceiling of every leg.
Prints time, recipients per second, messages and the Python memory peak of each leg
(tracemalloc), then one JSON line whose top-level figures come from smtp-sink when it ran.

    .venv/bin/python bench/email_fanout.py [--recipients 10000] [--batch 50] [--connections 4]

smtp-sink is in Debian's ``postfix`` package; without it only the aiosmtpd legs run. Install:
``DEBIAN_FRONTEND=noninteractive apt-get install -y postfix`` (the bench starts smtp-sink
itself; no Postfix daemon needs to run, and no test needs it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import apprise

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from channels.base import ChannelContext, Post  # noqa: E402
from channels.email_message import build  # noqa: E402
from channels.recipients import Recipient  # noqa: E402
from channels.smtp import EmailChannel, EmailOptions  # noqa: E402
from tests.peers.smtp_server import Sink, smtp_server  # noqa: E402

SENDER = "Acme Status <status@acme.example>"
SMTP_SINK = "/usr/sbin/smtp-sink"
INSTALL_HINT = "DEBIAN_FRONTEND=noninteractive apt-get install -y postfix"


def post() -> Post:
    return Post(
        message_id=1, key="m1-mail-1", title="Service notice",
        text="Our X account is unreachable; updates continue at https://status.acme.example/",
        created_at=datetime.now(UTC),
    )  # fmt: skip


@dataclass
class Server:
    """An SMTP server under test: where it listens and how many messages it has taken."""

    name: str
    port: int
    messages: Callable[[], int]


@contextlib.contextmanager
def aiosmtpd_server() -> Iterator[Server]:
    sink = Sink()
    with smtp_server(sink) as port:
        yield Server("aiosmtpd (in process)", port, lambda: len(sink.received))


@contextlib.contextmanager
def smtp_sink_server(tmp: Path) -> Iterator[Server]:
    """Postfix's smtp-sink on a free port; ``-c`` writes its running message count to a file."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp / "smtp-sink.out"
    user = ["-u", "nobody"] if os.geteuid() == 0 else []  # it refuses to run as root otherwise
    with out.open("wb") as f:
        proc = subprocess.Popen([SMTP_SINK, *user, "-c", f"127.0.0.1:{port}", "256"], stdout=f)
    try:
        for _ in range(200):  # until it listens
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.01)

        def messages() -> int:
            counts = re.findall(rb"mesg=(\d+)", out.read_bytes())
            return int(counts[-1]) if counts else 0

        yield Server("smtp-sink (own process)", port, messages)
    finally:
        proc.terminate()
        proc.wait()


async def measured(run: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    """(seconds, Python peak MB) of one leg."""
    tracemalloc.start()
    t = time.perf_counter()
    await run()
    elapsed = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak / 2**20


async def adapter_leg(port: int, rcpt_file: Path, batch: int, conns: int, tmp: Path) -> str:
    ch = EmailChannel(
        ChannelContext(name="mail", state_dir=tmp),
        EmailOptions(host="127.0.0.1", port=port, security="none", from_address=SENDER,
                     recipients_file=rcpt_file, batch_size=batch, max_connections=conns),
    )  # fmt: skip
    await ch.open()
    try:
        return (await ch.send(post())).note or ""
    finally:
        await ch.close()


class ListSource:
    """Subscribers as the daemon hands them over: each with its own unsubscribe headers."""

    def __init__(self, rcpt_file: Path) -> None:
        self.rcpt_file = rcpt_file

    async def recipients(self, post: Post) -> list[Recipient]:
        out = []
        for i, line in enumerate(self.rcpt_file.open()):
            url = f"https://status.acme.example/status/unsubscribe/key{i:08d}{'x' * 31}"
            out.append(Recipient(line.strip(), (
                ("List-Unsubscribe", f"<{url}>"),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            )))  # fmt: skip
        return out

    async def refused(self, address: str, reason: str) -> None:
        raise SystemExit(f"the bench server refused {address}: {reason}")


async def each_leg(port: int, rcpt_file: Path, conns: int, tmp: Path) -> str:
    ch = EmailChannel(
        ChannelContext(name="mail", state_dir=tmp),
        EmailOptions(host="127.0.0.1", port=port, security="none", from_address=SENDER,
                     recipients_from="subscribers", max_connections=conns),
    )  # fmt: skip
    ch.source = ListSource(rcpt_file)
    await ch.open()
    try:
        return (await ch.send(post())).note or ""
    finally:
        await ch.close()


async def raw_leg(port: int, rcpt_file: Path, batch: int, conns: int) -> None:
    raw = build(post(), SENDER).as_bytes()
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


def apprise_leg(port: int, recipients: list[str]) -> None:
    """Apprise's email plugin: one connection, one message per recipient, in turn."""
    notifier = apprise.Apprise()
    to = ",".join(recipients)
    url = f"mailto://127.0.0.1:{port}?mode=insecure&from=status@acme.example&to={to}"
    if not notifier.add(url):
        raise SystemExit("Apprise refused the mailto:// URL")
    p = post()
    if not notifier.notify(body=p.text, title=p.title or ""):
        raise SystemExit("Apprise reported a failed send")


async def server_legs(
    server: Server, rcpt_file: Path, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    """The three legs against one server; each checks the server took every message."""
    n, batch, conns = args.recipients, args.batch, args.connections
    first = [line.strip() for line in itertools.islice(rcpt_file.open(), args.apprise_max)]
    note = ""

    async def ours() -> None:
        nonlocal note
        note = await adapter_leg(server.port, rcpt_file, batch, conns, tmp)

    async def each() -> None:
        await each_leg(server.port, rcpt_file, conns, tmp)

    legs: dict[str, Any] = {"note": ""}
    plan: list[tuple[str, int, int, Callable[[], Awaitable[None]]]] = [
        ("raw", n, math.ceil(n / batch), lambda: raw_leg(server.port, rcpt_file, batch, conns)),
        ("failover", n, math.ceil(n / batch), ours),
        ("each", n, n, each),
        ("apprise", len(first), len(first),
         lambda: asyncio.to_thread(apprise_leg, server.port, first)),
    ]  # fmt: skip
    for key, rcpts, messages, run in plan:
        before = server.messages()
        seconds, peak = await measured(run)
        time.sleep(0.05)  # smtp-sink writes its count when the session ends
        got = server.messages() - before
        assert got == messages, f"{server.name} {key}: {got} of {messages} messages arrived"
        legs[key] = {"rcpts": rcpts, "messages": messages, "seconds": seconds, "peak_mb": peak}
    legs["note"] = note
    return legs


def print_server(name: str, legs: dict[str, Any]) -> None:
    print(f"\n{name}")
    print(f"{'leg':<26} {'rcpts':>6} {'msgs':>6} {'seconds':>8} {'rcpt/s':>9} {'py peak MB':>11}")
    labels = {"raw": "raw aiosmtplib loop", "failover": "failover email adapter",
              "each": "failover, per subscriber", "apprise": "Apprise mailto://"}  # fmt: skip
    for key, label in labels.items():
        leg = legs[key]
        rate = leg["rcpts"] / leg["seconds"]
        print(
            f"{label:<26} {leg['rcpts']:>6} {leg['messages']:>6} {leg['seconds']:>8.2f}"
            f" {rate:>9.0f} {leg['peak_mb']:>11.2f}"
        )
    print(f"adapter: {legs['note']}")


def rates(legs: dict[str, Any]) -> dict[str, float]:
    return {
        k: round(legs[k]["rcpts"] / legs[k]["seconds"], 1)
        for k in ("raw", "failover", "each", "apprise")
    }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipients", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--apprise-max", type=int, default=1000, help="recipients for Apprise")
    args = ap.parse_args()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rcpt_file = tmp / "list.txt"
        rcpt_file.write_text("".join(f"customer{i}@example.org\n" for i in range(args.recipients)))
        with aiosmtpd_server() as server:
            results["aiosmtpd"] = await server_legs(server, rcpt_file, args, tmp)
            print_server(server.name, results["aiosmtpd"])
        if shutil.which(SMTP_SINK) or Path(SMTP_SINK).exists():
            with smtp_sink_server(tmp) as server:
                results["smtp_sink"] = await server_legs(server, rcpt_file, args, tmp)
                print_server(server.name, results["smtp_sink"])
        else:
            print(
                f"\nsmtp-sink not found at {SMTP_SINK}: its legs did not run. Install: {INSTALL_HINT}"
            )
    print(
        f"\n{args.recipients} recipients, batches of {args.batch}, {args.connections} connections;"
        f" Apprise: first {min(args.apprise_max, args.recipients)}, one message each"
    )
    figures: dict[str, Any] = {"recipients": args.recipients}
    for sink, legs in results.items():
        figures.update({f"{sink}_{k}_per_s": v for k, v in rates(legs).items()})
    top = "smtp_sink" if "smtp_sink" in results else "aiosmtpd"
    r = rates(results[top])
    figures = {"sink": top, **{f"{k}_per_s": v for k, v in r.items()}, **figures}
    figures["vs_apprise"] = round(r["failover"] / r["apprise"], 2)
    figures["vs_raw"] = round(r["failover"] / r["raw"], 3)
    figures["each_vs_apprise"] = round(r["each"] / r["apprise"], 2)
    print(f"{'target':<34} {'value':>8}  met")
    print(
        f"{'failover / Apprise (>= 5)':<34} {figures['vs_apprise']:>8.2f}  {figures['vs_apprise'] >= 5}"
    )
    print(f"{'failover / raw (>= 0.8)':<34} {figures['vs_raw']:>8.3f}  {figures['vs_raw'] >= 0.8}")
    each = figures["each_vs_apprise"]
    print(f"{'per subscriber / Apprise (>= 1)':<34} {each:>8.2f}  {each >= 1}")
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
