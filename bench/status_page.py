"""The public status page under a long past: does 90 days of component history and a long
incident history slow /status/ and its JSON?

Two phases against one in-process daemon on SQLite: an empty page (no component, no
incident), then a full one: ``--components`` (20) components in 4 groups, each changing
status every ``--every-hours`` (6) over 90 days (about 7,200 history rows), ``--incidents``
(500) resolved incidents with three updates each and 3 active ones. The data is written
through the store's own status methods before measuring. Per path it reports the median
latency of ``--samples`` (30) sequential GETs (client in the same process), first rendering
every time (the render cache's ttl set to 0), then through the render cache, and pages/s
for ``/status/`` with 8 concurrent clients for 3 s (cache on). Prints a table and, last, one JSON line.

    .venv/bin/python bench/status_page.py [--components 20] [--incidents 500] [--samples 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from failover.api.render_cache import RenderCache  # noqa: E402
from failover.api.status_page import RENDER_TTL, RENDERS  # noqa: E402
from failover.store.base import Store  # noqa: E402
from failover.store.status import ComponentSpec, NewIncident, NewUpdate  # noqa: E402
from tests.harness import Harness, start_daemon, write_config  # noqa: E402

CONFIG = '[channels.status]\ntype = "feed"\n\n[routes.default]\ntiers = [["status"]]\n'
PATHS = ["/status/", "/status/api/v2/summary.json", "/status/api/v2/incidents.json",
         "/status/feed.atom", "/status/history?page=20", "/status/incidents/1"]  # fmt: skip
STATUSES = ["operational", "degraded_performance", "operational", "partial_outage"]


async def fill(store: Store, now_: object, components: int, every: float, incidents: int) -> int:
    from datetime import datetime

    assert isinstance(now_, datetime)
    start = now_ - timedelta(days=90)
    specs = [ComponentSpec(f"c{i}", f"Component {i}", None, f"Group {i % 4}", i)
             for i in range(components)]  # fmt: skip
    await store.upsert_components(specs, start)
    rows = 0
    for spec in specs:
        at, n = start, 0
        while at < now_:
            await store.set_component_status(spec.id, STATUSES[n % 4], "probe", at)
            at, n, rows = at + timedelta(hours=every), n + 1, rows + 1
    for k in range(incidents + 3):
        at = start + timedelta(minutes=k * 90 * 24 * 60 / (incidents + 3))
        new = NewIncident("incident", f"Incident {k}", "minor", "investigating", "default", "b",
                          {"c1": "partial_outage"})  # fmt: skip
        inc = await store.create_incident(new, at, NewUpdate("investigating", "Looking.", "b"))
        await store.add_incident_update(inc.id, NewUpdate("identified", "Found.", "b"), at)
        if k < incidents:
            await store.add_incident_update(inc.id, NewUpdate("resolved", "Fixed.", "b"), at)
    return rows


def renders(h: Harness) -> RenderCache:
    runner = h.daemon._runner
    assert runner is not None
    return runner.app[RENDERS]


async def measure(h: Harness, samples: int) -> dict[str, float]:
    out = {}
    async with aiohttp.ClientSession() as s:
        for cold in (True, False):  # every GET renders / the render cache answers
            renders(h).ttl = 0.0 if cold else RENDER_TTL
            for path in PATHS:
                times = []
                for _ in range(samples):
                    t0 = time.perf_counter()
                    async with s.get(h.url + path) as r:
                        await r.read()
                        status = r.status
                    times.append((time.perf_counter() - t0) * 1000)
                key = path if cold else f"cached {path}"
                out[key] = statistics.median(times) if status == 200 else float("nan")
        done = 0
        stop = time.perf_counter() + 3.0

        async def client() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                async with s.get(h.url + "/status/") as r:
                    await r.read()
                done += 1

        await asyncio.gather(*(client() for _ in range(8)))
        out["pages_per_s"] = done / 3.0
    return out


async def phase(directory: Path, args: argparse.Namespace, full: bool) -> dict[str, float]:
    directory.mkdir()
    h = await start_daemon(write_config(directory, CONFIG))
    try:
        rows = 0
        if full:
            now = h.daemon.clock.now()
            rows = await fill(h.daemon.store, now, args.components, args.every_hours,
                              args.incidents)  # fmt: skip
        result = await measure(h, args.samples)
        result["history_rows"] = rows
        return result
    finally:
        await h.daemon.stop()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--components", type=int, default=20)
    ap.add_argument("--every-hours", type=float, default=6.0)
    ap.add_argument("--incidents", type=int, default=500)
    ap.add_argument("--samples", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        empty = await phase(Path(tmp) / "empty", args, False)
        full = await phase(Path(tmp) / "full", args, True)
    print(f"\nSQLite, in-process daemon and client; full: {args.components} components, "
          f"{full['history_rows']:.0f} history rows, {args.incidents} resolved + 3 active "
          f"incidents; medians of {args.samples}")  # fmt: skip
    print(f"{'GET (rendered each time)':<34} {'empty ms':>9} {'full ms':>9} {'ratio':>7}")
    out: dict[str, float] = {}
    for path in [*PATHS, *(f"cached {p}" for p in PATHS)]:
        if path == f"cached {PATHS[0]}":
            print(f"{'GET (from the 2 s render cache)':<34}")
        ratio = full[path] / empty[path]
        print(
            f"{path.removeprefix('cached '):<34} {empty[path]:>9.2f} {full[path]:>9.2f} {ratio:>7.2f}"
        )
        out[path] = round(full[path], 2)
    print(f"{'/status/ pages/s, 8 clients':<34} {empty['pages_per_s']:>9.1f} "
          f"{full['pages_per_s']:>9.1f} {full['pages_per_s'] / empty['pages_per_s']:>7.2f}")  # fmt: skip
    print(json.dumps({"index_ms": out["/status/"], "summary_ms": out["/status/api/v2/summary.json"],
                      "index_cached_ms": out["cached /status/"],
                      "pages_per_s": round(full["pages_per_s"], 1),
                      "empty_pages_per_s": round(empty["pages_per_s"], 1),
                      "history_rows": full["history_rows"], "paths_ms": out}))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
