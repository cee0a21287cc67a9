"""A real fediverse server (Fedify on Node 24) with one account, run by the tests.

Installed by ``.ci/install-fedify.sh`` into ``$FAILOVER_FEDIFY_DIR`` (default
/var/cache/failover-fedify), on the Node that ``.ci/install-pds.sh`` brings from PyPI. Where it
is not installed the tests that need it skip and say how to install it. Fedify resolves
handles over https only, so tests put the daemon behind ``tests.peers.tls_front`` and hand
Node the test CA through ``NODE_EXTRA_CA_CERTS``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from tests import system_tools
from tests.harness import free_port
from tests.peers.node_process import node as node_binary
from tests.peers.node_process import node_script

SCRIPT = Path(__file__).with_name("server.mjs")
CACHE = Path(os.environ.get("FAILOVER_FEDIFY_DIR", "/var/cache/failover-fedify"))


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


@contextmanager
def fedify_peer(ca_file: Path, timeout: float = 60.0) -> Iterator[FedifyPeer]:
    node = node_binary()
    if node is None or not (CACHE / "node_modules" / "@fedify" / "fedify").is_dir():
        system_tools.missing(f"Fedify (in {CACHE}) on Node 24", "bash .ci/install-fedify.sh")
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(ca_file)}
    args = [str(free_port()), str(free_port())]
    with node_script(node, SCRIPT, CACHE, args, "the Fedify peer", timeout, env) as (info, proc):
        yield FedifyPeer(info["origin"], info["control"], proc)
