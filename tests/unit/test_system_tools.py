"""A test that needs a missing system tool skips and names it, the run's summary lists it with
the install command, and with CI=true the same run fails (tests/system_tools.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = """
from tests import system_tools

def test_needs_a_tool():
    system_tools.which("no-such-tool-f7c2", "apt-get install no-such-tool")

def test_plain():
    assert True
"""


def run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.system_tools", "-q", "-p", "no:cacheprovider",
         str(tmp_path / "test_sample.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_missing_tool_skips_and_the_summary_names_it_and_its_install(tmp_path: Path) -> None:
    done = run(tmp_path, None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 1 skipped" in done.stdout
    assert "system tools missing on this machine (skipped, not failed)" in done.stdout
    assert "no-such-tool-f7c2 — install it with: apt-get install no-such-tool  (1 test)" in (
        done.stdout
    )


@pytest.mark.parametrize("ci", ["true", "1"])
def test_under_ci_the_same_skip_fails_the_run(tmp_path: Path, ci: str) -> None:
    done = run(tmp_path, ci)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "CI=true: these skips FAIL the run" in done.stdout
    assert "no-such-tool-f7c2" in done.stdout
