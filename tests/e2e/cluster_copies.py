"""Evidence for the cluster tests: a CPU hog on every core, the claims a daemon can leave
half-done (read from the store), and, for every copy a receiver got twice, which daemon sent
each copy under which claim (the ``Failover-Claim`` header) and what the store recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from types import TracebackType

import psycopg

from tests.peers.webhook_receiver import Received

Claim = tuple[int, int]  # (delivery id, claim epoch)

_SPIN = """
import sys, time
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    pass
"""


class CpuHog:
    """``with CpuHog():`` one busy process per core, each ending on its own after ``limit``
    seconds even if the test dies, and stopped when the block ends."""

    def __init__(self, limit: float = 600.0) -> None:
        self.limit = limit
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> CpuHog:
        for _ in range(os.cpu_count() or 2):
            self.procs.append(subprocess.Popen([sys.executable, "-c", _SPIN, str(self.limit)]))
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()


def at_risk(dsn: str, node: str) -> set[Claim]:
    """The deliveries ``node`` can leave half-done if it stops now: claimed by it and not
    finished, whether not yet sent, being sent, or sent and not yet recorded. All three are
    ``state = 'sending'`` under its name: a claim commits that state and the outcome clears it
    in one transaction, so nothing half-done lies outside this set."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT id, claim_epoch FROM deliveries WHERE state = 'sending' AND claimed_by = %s",
            (node,),
        ).fetchall()
    return {(int(i), int(e)) for i, e in rows}


def fenced_events(dsn: str) -> dict[Claim, dict[str, object]]:
    """The ``delivery.fenced`` events: claims whose daemon found them lost, what it did."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT delivery_id, detail FROM events WHERE kind = 'delivery.fenced'"
        ).fetchall()
    out = {}
    for delivery, detail in rows:
        doc = json.loads(detail)
        out[(int(delivery), int(doc["claim_epoch"]))] = doc
    return out


@dataclass(frozen=True)
class Copy:
    node: str
    claim: Claim
    at: float  # when the receiver recorded it
    recorded: str | None  # the outcome the store kept for this claim, None if none


def copies_by_delivery(dsn: str, received: list[Received]) -> dict[int, list[Copy]]:
    """Every accepted copy, per delivery, oldest first, with the attempt the store recorded
    for the claim that sent it (none: the claim ended without an outcome)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT delivery_id, claim_epoch, outcome FROM attempts").fetchall()
    recorded = {(int(d), int(e)): str(o) for d, e, o in rows if e is not None}
    out: dict[int, list[Copy]] = defaultdict(list)
    for r in sorted(received, key=lambda r: r.at):
        node, _, claim = r.headers["Failover-Claim"].rpartition(" ")
        delivery, epoch = (int(x) for x in claim.split("/"))
        out[delivery].append(Copy(node, (delivery, epoch), r.at, recorded.get((delivery, epoch))))
    return out


def extra_copies(copies: dict[int, list[Copy]]) -> dict[int, list[Copy]]:
    """Per delivery sent more than once, the copies beyond the one the store recorded as
    delivered (or, when none was, beyond the last)."""
    extra = {}
    for delivery, cs in copies.items():
        if len(cs) > 1:
            kept = next((c for c in cs if c.recorded == "delivered"), cs[-1])
            extra[delivery] = [c for c in cs if c is not kept]
    return extra


def explain(copies: dict[int, list[Copy]], names: dict[str, str]) -> str:
    """One line per duplicated delivery: each copy's daemon, claim epoch and record."""
    lines = []
    for delivery, cs in sorted(copies.items()):
        if len(cs) > 1:
            parts = [
                f"{names.get(c.node, c.node)} epoch {c.claim[1]} "
                f"({c.recorded or 'no outcome recorded'})"
                for c in cs
            ]
            lines.append(f"delivery {delivery}: " + "; ".join(parts))
    return "\n".join(lines)
