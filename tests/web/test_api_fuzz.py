"""Schemathesis against the shipped OpenAPI file and a live daemon on each store: about a
thousand generated requests each (valid and invalid, boundary values, NUL bytes) find no 5xx
and no response that breaks the document."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness import Harness, start_daemon, write_config
from tests.peers.postgres_db import throwaway_database
from tests.web.test_hostile_input import CONFIG

pytestmark = pytest.mark.slow

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
])  # fmt: skip
EXAMPLES_PER_OPERATION = 25


@pytest.fixture(params=["sqlite", "postgres"])
async def daemon(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    """The API on each store: PostgreSQL refuses what SQLite takes (NUL in text, ids past
    2**63), so a shape that passes on one may fail on the other."""
    with contextlib.ExitStack() as stack:
        path = write_config(tmp_path, CONFIG)
        if request.param == "postgres":
            dsn = stack.enter_context(throwaway_database())
            path.write_text(f'store = "{dsn}"\n' + path.read_text())
        h = await start_daemon(path)
        yield h
        await h.daemon.stop()


async def test_fuzz_the_api(daemon: Harness, tmp_path: Path) -> None:
    spec = Path(__file__).parents[2] / "failover" / "api" / "openapi.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "schemathesis.cli", "run", str(spec),
        "--url", daemon.url, "--checks", CHECKS,
        "--header", f"Authorization: Bearer {daemon.tokens['admin']}",
        "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", "20261125",
        # Valid and invalid data, boundary values (ids and numbers just past the documented
        # maximum, 2**63 among them), NUL bytes in strings: 1,012 requests per store.
        "--mode", "all",  # every phase: examples, coverage, fuzzing, stateful
        "--generation-allow-x00", "true",
        "--exclude-method", "DELETE",  # revoking tokens: tested in test_rest_api.py
        "--workers", "1", "--no-color", "--report", "ndjson", "--report-dir", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,  # its cache directory stays out of the checkout
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=600)
    report = out.decode(errors="replace")
    assert proc.returncode == 0, report[-6000:]
    print(report[-1500:])
