"""Schemathesis against the shipped OpenAPI file and a live daemon: a few hundred generated
requests (valid and invalid) find no 5xx and no response that breaks the document."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.harness import Harness

pytestmark = pytest.mark.slow

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
])  # fmt: skip
EXAMPLES_PER_OPERATION = 25


async def test_fuzz_the_api(web: Harness, tmp_path: Path) -> None:
    spec = Path(__file__).parents[2] / "failover" / "api" / "openapi.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "schemathesis.cli", "run", str(spec),
        "--url", web.url, "--checks", CHECKS,
        "--header", f"Authorization: Bearer {web.tokens['admin']}",
        "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", "20261125",
        "--exclude-method", "DELETE",  # revoking tokens: tested in test_rest_api.py
        "--workers", "1", "--no-color", "--report", "ndjson", "--report-dir", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,  # its cache directory stays out of the checkout
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=600)
    report = out.decode(errors="replace")
    assert proc.returncode == 0, report[-6000:]
    print(report[-1500:])
