"""End-to-end delivery throughput: the daemon against a plain aiohttp loop, same endpoint, same run.

The daemon legs post N messages to the API of real daemon subprocesses: one on SQLite (fsync on
every commit), then, when a PostgreSQL server answers, one and three daemons sharing a throwaway
PostgreSQL database and times from the first POST to the N-th arrival at a local webhook receiver.
The raw leg sends the same N JSON bodies straight to the same receiver with a plain aiohttp
loop at the same concurrency. The relay leg posts them to ``bench/relay.py``, a process that
answers 201 and forwards each body with nothing else: what any daemon of one Python process
reaches here, doing the two requests per message the daemon does (``sqlite_vs_relay``). Each daemon leg also reads the daemons' /metrics before and
after (``failover_store_work_total``) for the store's SQL statements and commits per delivered
message, from acceptance to delivered (BEGIN/COMMIT are not counted as statements).
Prints a table and, last, one JSON line.

The slow legs (issue 15, "scale-out that means something") do the same with one and three
daemons on PostgreSQL against a receiver that answers each POST after 100 ms, as real platforms
do, at the channel's default concurrency: there a daemon waits on the network, not on the 2
cores, so three daemons should reach ~3x one (``postgres_3_vs_1_slow``). The ceiling is
concurrency / 0.1 s per daemon. "drain msg/s" is the rate once every POST was accepted: on a
busy machine acceptance is CPU-bound and caps the end-to-end figure; the drain shows sending
alone (``postgres_3_vs_1_slow_drain``).

    .venv/bin/python bench/throughput.py [--n 2000] [--concurrency 16] [--legs all|fast|slow]
        [--slow-n 1200]
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

from failover.config import ChannelConfig  # noqa: E402
from tests.e2e.daemon_process import DaemonProcess  # noqa: E402
from tests.harness import free_port, write_config  # noqa: E402
from tests.peers import postgres_db  # noqa: E402
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


SLOW_ANSWER = 0.1  # seconds the slow legs' receiver takes to answer each POST
DEFAULT_CONCURRENCY = ChannelConfig("bench", "webhook", None).concurrency


def daemon_config(
    directory: Path, receiver: WebhookReceiver, concurrency: int | None, store: str | None
) -> Path:
    """``concurrency`` None leaves the channel at the daemon's default."""
    directory.mkdir(parents=True, exist_ok=True)
    store_line = f'store = "{store}"\n' if store else ""
    concurrency_line = f"concurrency = {concurrency}" if concurrency is not None else ""
    config = write_config(
        directory,
        f"""
        [log]
        level = "warning"

        [channels.hook]
        type = "webhook"
        url = "{receiver.server.url}/hook"
        {concurrency_line}

        [routes.default]
        tiers = [["hook"]]
        """,
    )
    if store_line:  # top-level keys go before the first table
        config.write_text(store_line + config.read_text())
    return config


def publisher_token(config: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "failover", "token", "create", "--role", "publisher",
         "--name", "bench", "-c", str(config), "--json"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return str(json.loads(out.stdout)["token"])


async def store_work(urls: list[str]) -> tuple[float, float]:
    """(SQL statements, commits) the daemons have run on their store so far (/metrics)."""
    totals = {"statements": 0.0, "commits": 0.0}
    async with aiohttp.ClientSession() as s:
        for url in urls:
            async with s.get(url + "/metrics") as r:
                text = await r.text()
            for line in text.splitlines():
                for kind in totals:
                    if line.startswith(f'failover_store_work_total{{kind="{kind}"}}'):
                        totals[kind] += float(line.split()[-1])
    return totals["statements"], totals["commits"]


def cpu_jiffies() -> tuple[int, int]:
    """(all, idle) CPU time of the whole machine so far (Linux /proc/stat; (0, 0) elsewhere)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return 0, 0
    return sum(fields), fields[3] + fields[4]  # idle + iowait


def busy_since(before: tuple[int, int]) -> float:
    """Fraction of the machine's CPU time in use since ``before`` (every process counted)."""
    total, idle = cpu_jiffies()
    span = total - before[0]
    return 1 - (idle - before[1]) / span if span > 0 else 0.0


async def post_all(
    receiver: WebhookReceiver, urls: list[str], n: int, headers: dict[str, str]
) -> tuple[float, float, int, float]:
    """POST N messages round-robin to ``urls``' /api/v1/messages, 32 at a time, and wait for
    all N at the receiver. Returns (seconds to the N-th arrival, seconds to accept all N, how
    many had not arrived when the last was accepted, the machine's CPU busy fraction)."""
    start_count = len(receiver.received)
    sem = asyncio.Semaphore(32)
    async with aiohttp.ClientSession(headers=headers) as s:

        async def post(i: int) -> None:
            url = urls[i % len(urls)] + "/api/v1/messages"
            async with sem, s.post(url, json={"text": f"benchmark message {i}"}) as r:
                assert r.status == 201, await r.text()

        t0, cpu0 = time.perf_counter(), cpu_jiffies()
        await asyncio.gather(*(post(i) for i in range(n)))
        accepted = time.perf_counter() - t0
        left = start_count + n - len(receiver.received)
        await wait_count(receiver, start_count + n)
        return time.perf_counter() - t0, accepted, left, busy_since(cpu0)


async def daemon_leg(
    receiver: WebhookReceiver,
    n: int,
    concurrency: int | None,
    workdir: Path,
    store: str | None = None,
    daemons: int = 1,
) -> tuple[float, float, float, float, float, float]:
    """Returns (seconds from first POST to N-th arrival, seconds to accept all N, store
    statements per delivered message, commits per delivered message, drain msg/s: the
    arrivals after the last POST was accepted per second, until the N-th, 0 if under N/10 were
    left; the machine's CPU busy fraction from the first POST to the N-th arrival).

    With several daemons (one shared PostgreSQL store) the POSTs go round-robin to their APIs
    and every daemon sends; ``concurrency`` is per daemon, as it would be in production.
    """
    configs = [
        daemon_config(workdir / f"d{i}", receiver, concurrency, store) for i in range(daemons)
    ]
    token = publisher_token(configs[0])  # one store: the token is valid on every daemon
    procs = [DaemonProcess(c) for c in configs]
    urls = ["http://" + c.read_text().split('listen = "')[1].split('"')[0] for c in configs]
    try:
        for p in procs:
            p.start()
        for p, url in zip(procs, urls, strict=True):
            await p.wait_ready(url, timeout=60)
        statements0, commits0 = await store_work(urls)
        headers = {"Authorization": f"Bearer {token}"}
        elapsed, accepted, left, busy = await post_all(receiver, urls, n, headers)
        await asyncio.sleep(0.5)  # the last outcomes are recorded just after their arrival
        statements, commits = await store_work(urls)
    finally:
        for p in procs:
            if p.proc is not None:
                p.terminate()
    # A handful left over says nothing about a rate: drain only when a tenth or more was left.
    drain = left / (elapsed - accepted) if left >= n / 10 else 0.0
    per_msg = (statements - statements0) / n, (commits - commits0) / n
    return elapsed, accepted, *per_msg, drain, busy


async def relay_leg(
    receiver: WebhookReceiver, n: int, concurrency: int
) -> tuple[float, float, float, float, float, float]:
    """The same N POSTs through ``bench/relay.py``: one Python process that answers 201 and
    forwards, with nothing else — the ceiling of any single-process aiohttp daemon here."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "relay.py"), "--port", str(port),
         "--target", receiver.server.url + "/hook", "--concurrency", str(concurrency)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        urls = [f"http://127.0.0.1:{port}"]
        elapsed, accepted, left, busy = await post_all(receiver, urls, n, {})
    finally:
        proc.terminate()
        proc.wait(10)
    drain = left / (elapsed - accepted) if left >= n / 10 else 0.0
    return elapsed, accepted, 0.0, 0.0, drain, busy


# key, label, end-to-end s, accept s, statements and commits per message, drain msg/s, CPU busy
Leg = tuple[str, str, float, float, float, float, float, float]


async def postgres_legs(
    receiver: WebhookReceiver, n: int, concurrency: int | None, workdir: Path, suffix: str
) -> list[Leg]:
    """One daemon, then three, each on its own throwaway PostgreSQL database."""
    legs: list[Leg] = []
    for daemons in (1, 3):
        with postgres_db.throwaway_database() as dsn:
            run = await daemon_leg(
                receiver, n, concurrency, workdir / f"pg{daemons}{suffix}", dsn, daemons
            )
        plural = "s" if daemons > 1 else ""
        label = f"{daemons} daemon{plural}, PostgreSQL{', slow' if suffix else ''}"
        legs.append((f"postgres_{daemons}{suffix}", label, *run))
    return legs


async def fast_legs(
    args: argparse.Namespace, pg_why: str | None, tmp: Path
) -> tuple[float, list[Leg]]:
    """Raw loop, SQLite daemon and PostgreSQL daemons against an immediate receiver."""
    async with WebhookReceiver() as receiver:
        await raw_leg(receiver, 100, args.concurrency)  # warm-up
        raw = await raw_leg(receiver, args.n, args.concurrency)
        relay = await relay_leg(receiver, args.n, args.concurrency)
        run = await daemon_leg(receiver, args.n, args.concurrency, tmp / "sqlite")
        legs: list[Leg] = [("relay", "bare relay (no store)", *relay)]
        legs.append(("sqlite", "daemon, SQLite", *run))
        if pg_why is None:
            legs += await postgres_legs(receiver, args.n, args.concurrency, tmp, "")
    return raw, legs


async def slow_legs(args: argparse.Namespace, tmp: Path) -> list[Leg]:
    """One and three daemons on PostgreSQL, the receiver answering after SLOW_ANSWER."""
    async with WebhookReceiver(delay=SLOW_ANSWER) as receiver:
        return await postgres_legs(receiver, args.slow_n, args.slow_concurrency, tmp, "_slow")


def leg_rows(legs: list[Leg], n_of: dict[str, int], raw_rate: float | None) -> dict[str, float]:
    """Print one table row per leg; their figures for the JSON line."""
    figures: dict[str, float] = {}
    for key, label, e2e, acc, statements, commits, drain, busy in legs:
        n = n_of[key]
        rate = n / e2e
        vs_raw = (
            f"{rate / raw_rate:>7.3f}" if raw_rate and not key.endswith("_slow") else f"{'-':>7}"
        )
        print(
            f"{label:<28} {n:>6} {e2e:>12.2f} {rate:>9.1f} {vs_raw} {n / acc:>13.1f}"
            f" {statements:>15.2f} {commits:>12.2f} {f'{drain:.1f}' if drain else '-':>12}"
            f" {busy:>9.0%}"
        )
        figures[f"{key}_per_s"] = round(rate, 1)
        figures[f"{key}_accept_per_s"] = round(n / acc, 1)
        if drain:
            figures[f"{key}_drain_per_s"] = round(drain, 1)
        figures[f"{key}_cpu_busy"] = round(busy, 2)
        figures[f"{key}_statements_per_msg"] = round(statements, 2)
        figures[f"{key}_commits_per_msg"] = round(commits, 2)
    return figures


def print_header(args: argparse.Namespace) -> None:
    if args.legs != "slow":
        print(
            f"\nfast legs: channel concurrency {args.concurrency} per daemon, one local webhook "
            "receiver answering at once, 2 cores shared by everything"
        )
    if args.legs != "fast":
        c = args.slow_concurrency or DEFAULT_CONCURRENCY
        print(
            f"slow legs: the receiver answers each POST after {SLOW_ANSWER * 1000:.0f} ms; channel "
            f"concurrency {c} per daemon{' (the default)' if args.slow_concurrency is None else ''}"
            f", so the ceiling is {c} / {SLOW_ANSWER} s = {c / SLOW_ANSWER:.0f} msg/s per daemon"
        )
    print(
        "CPU busy: the whole machine's (2 cores, other work included), first POST to N-th arrival"
    )
    print(
        f"{'leg':<28} {'N':>6} {'end-to-end s':>12} {'msg/s':>9} {'vs raw':>7} {'accept msg/s':>13}"
        f" {'statements/msg':>15} {'commits/msg':>12} {'drain msg/s':>12} {'CPU busy':>9}"
    )


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL legs")
    ap.add_argument("--legs", choices=("all", "fast", "slow"), default="all")
    ap.add_argument("--slow-n", type=int, default=1200, help="messages per slow leg")
    ap.add_argument(
        "--slow-concurrency", type=int, default=None, help="default: the channel's default"
    )
    args = ap.parse_args()
    pg_why = "--no-postgres" if args.no_postgres else postgres_db.available()
    if args.legs == "slow" and pg_why is not None:
        raise SystemExit(f"the slow legs need PostgreSQL: {pg_why}")
    raw: float | None = None
    legs: list[Leg] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.legs != "slow":
            raw, legs = await fast_legs(args, pg_why, Path(tmp))
        if args.legs != "fast" and pg_why is None:
            legs += await slow_legs(args, Path(tmp))
    n_of = {key: args.slow_n if key.endswith("_slow") else args.n for key, *_ in legs}
    print_header(args)
    figures: dict[str, float] = {}
    if raw is not None:
        print(f"{'raw aiohttp loop':<28} {args.n:>6} {raw:>12.2f} {args.n / raw:>9.1f} {1:>7.3f}")
        figures["raw_per_s"] = round(args.n / raw, 1)
    figures.update(leg_rows(legs, n_of, figures.get("raw_per_s")))
    if pg_why is not None:
        print(f"PostgreSQL legs not run: {pg_why}")
    if "sqlite_per_s" in figures:
        figures["daemon_per_s"] = figures["sqlite_per_s"]
        figures["ratio"] = round(figures["sqlite_per_s"] / figures["raw_per_s"], 3)
        figures["statements_per_msg"] = figures["sqlite_statements_per_msg"]
    if "relay_per_s" in figures and "sqlite_per_s" in figures:
        figures["sqlite_vs_relay"] = round(figures["sqlite_per_s"] / figures["relay_per_s"], 3)
    if "postgres_3_slow_per_s" in figures:
        one, three = figures["postgres_1_slow_per_s"], figures["postgres_3_slow_per_s"]
        figures["postgres_3_vs_1_slow"] = round(three / one, 2)
        print(f"slow legs: three daemons / one = {three / one:.2f}x end to end (target >= 2.5x)")
        one = figures.get("postgres_1_slow_drain_per_s", 0.0)
        three = figures.get("postgres_3_slow_drain_per_s", 0.0)
        if one > 0 and three > 0:  # both had a backlog left once every POST was accepted
            figures["postgres_3_vs_1_slow_drain"] = round(three / one, 2)
            print(f"slow legs: three daemons / one = {three / one:.2f}x draining the backlog")
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
