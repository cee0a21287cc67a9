"""Failover latency: how fast does a post reach a fallback once X goes down?

A daemon with default health, retry and escalation settings (probes: X's status page and the
adapter's own check, both at the default interval and timeout) runs against the local X
simulator with a webhook fallback. At t0 X fails in one of three ways while its status page
stays green (status pages lag real outages):

- ``503``: X's edge answers HTML 503 at once (a fast failure);
- ``hang``: X accepts the connection and never answers (the commonest real outage shape);
- ``stall``: X sends the answer's headers, then stalls mid-body.

Two kinds of measurement for each, several runs each:

- probe-detected: nothing is posted; we time the state change to ``down`` (the probes find it).
- send-detected: a post is made at t0; we time the state change and that post's arrival at
  the fallback.

    .venv/bin/python bench/failover_latency.py [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from failover.model import Health  # noqa: E402
from tests.harness import Harness, start_daemon, write_config  # noqa: E402
from tests.peers.faults import Fault  # noqa: E402
from tests.peers.statuspage import StatuspagePeer  # noqa: E402
from tests.peers.webhook_receiver import WebhookReceiver  # noqa: E402
from tests.peers.x_api import (  # noqa: E402
    ACCESS_SECRET,
    ACCESS_TOKEN,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    XPeer,
)

os.environ.update({
    "X_CONSUMER_KEY": CONSUMER_KEY, "X_CONSUMER_SECRET": CONSUMER_SECRET,
    "X_ACCESS_TOKEN": ACCESS_TOKEN, "X_ACCESS_SECRET": ACCESS_SECRET,
})  # fmt: skip


def config(x: str, page: str, backup: str) -> str:
    # Only what must be said: channels, probes (kinds and URLs), the route. Intervals,
    # thresholds, cool-downs, retries: all defaults.
    return f"""
    [log]
    level = "error"

    [channels.x]
    type = "x"
    api_base = "{x}"
    consumer_key = "${{X_CONSUMER_KEY}}"
    consumer_secret = "${{X_CONSUMER_SECRET}}"
    access_token = "${{X_ACCESS_TOKEN}}"
    access_token_secret = "${{X_ACCESS_SECRET}}"

    [channels.x.health]
    probes = [{{kind = "statuspage", url = "{page}/api/v2/summary.json"}}, {{kind = "adapter"}}]

    [channels.backup]
    type = "webhook"
    url = "{backup}/hook"

    [routes.default]
    tiers = [["x"], ["backup"]]
    """


async def until(check: object, timeout: float = 60.0) -> float:
    """Seconds (monotonic) at which ``check()`` first held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return time.monotonic()
        await asyncio.sleep(0.005)
    raise TimeoutError("condition never held")


async def one_run(fault: Fault, send: bool) -> tuple[float, float | None]:
    async with XPeer() as x, StatuspagePeer() as page, WebhookReceiver() as backup:
        with tempfile.TemporaryDirectory() as tmp:
            path = write_config(Path(tmp), config(x.url, page.url, backup.server.url))
            text = path.read_text()
            # Drop the harness's fast test retries and short claim lease (it bounds a send):
            # this measures the defaults.
            start = text.index("[retry]")
            end = text.index("\n\n", start) if "\n\n" in text[start:] else len(text)
            text = text[:start] + text[end:]
            path.write_text(text.replace('claim_lease = "20s"\n', ""))
            h: Harness = await start_daemon(path)
            try:
                await until(lambda: h.daemon.states.get("x") is not None
                            and h.daemon.states["x"].effective is Health.UP)  # fmt: skip
                await asyncio.sleep(random.uniform(0.0, 5.0))  # anywhere in the probe cycle
                t0 = time.monotonic()
                x.server.set_fault(fault, **({"status": 503} if fault is Fault.HTML_5XX else {}))
                if send:
                    await h.post(text="posted as X went down")
                t_down = await until(lambda: h.daemon.states["x"].effective is Health.DOWN)
                t_fallback = None
                if send:
                    t_fallback = await until(lambda: len(backup.delivered()) == 1)
                return t_down - t0, (t_fallback - t0) if t_fallback else None
            finally:
                await h.daemon.stop()


LEGS = {"503": Fault.HTML_5XX, "hang": Fault.HANG, "stall": Fault.STALL}
DESCRIBE = {
    "503": "answers HTML 503",
    "hang": "accepts TCP, never answers",
    "stall": "sends headers, stalls the body",
}


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    probe_down: dict[str, list[float]] = {leg: [] for leg in LEGS}
    send_down: dict[str, list[float]] = {leg: [] for leg in LEGS}
    send_fallback: dict[str, list[float]] = {leg: [] for leg in LEGS}
    for _ in range(args.runs):
        for leg, fault in LEGS.items():
            down, _none = await one_run(fault, send=False)
            probe_down[leg].append(down)
            down, fallback = await one_run(fault, send=True)
            assert fallback is not None
            send_down[leg].append(down)
            send_fallback[leg].append(fallback)
    med = statistics.median
    print(f"\nX fails at t0, its status page still green; {args.runs} runs each, defaults")
    print(
        f"{'X at t0':<32} {'outage':<15} {'to down (s) median':>19} {'min':>6} {'max':>6}"
        f" {'to fallback post (s) median':>28} {'min':>6} {'max':>6}"
    )
    for leg in LEGS:
        p, d, f = probe_down[leg], send_down[leg], send_fallback[leg]
        print(
            f"{DESCRIBE[leg]:<32} {'probe-detected':<15} {med(p):>19.2f} {min(p):>6.2f}"
            f" {max(p):>6.2f} {'-':>28} {'':>6} {'':>6}"
        )
        print(
            f"{'':<32} {'send-detected':<15} {med(d):>19.2f} {min(d):>6.2f} {max(d):>6.2f}"
            f" {med(f):>28.2f} {min(f):>6.2f} {max(f):>6.2f}"
        )
    print("targets: 503 probe-detected < 10 s, send-detected < 2 s; hang send-detected <= 20 s")
    print(json.dumps({
        "probe_detected_s": round(med(probe_down["503"]), 3),
        "send_detected_s": round(med(send_fallback["503"]), 3),
        "send_detected_state_change_s": round(med(send_down["503"]), 3),
        "hang_send_detected_s": round(med(send_fallback["hang"]), 3),
        "hang_send_detected_max_s": round(max(send_fallback["hang"]), 3),
        "hang_probe_detected_s": round(med(probe_down["hang"]), 3),
        "stall_send_detected_s": round(med(send_fallback["stall"]), 3),
        "stall_probe_detected_s": round(med(probe_down["stall"]), 3),
        "runs": args.runs,
    }))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
