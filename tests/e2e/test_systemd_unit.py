"""The systemd unit: its hardening score and that systemd accepts it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "failover.service"


@pytest.fixture(scope="module")
def analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail("systemd-analyze is missing: install Debian's `systemd` package (.ci/run does)")
    return path


def test_exposure_is_at_most_1_5(analyze: str) -> None:
    out = subprocess.run(
        [analyze, "security", "--offline=true", str(UNIT)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for failover\.service: ([0-9.]+)", out.stdout)
    assert match, out.stdout[-2000:] + out.stderr
    assert float(match.group(1)) <= 1.5, out.stdout


def test_systemd_verifies_the_unit(analyze: str, tmp_path: Path) -> None:
    # verify insists that ExecStart's binary exists: point it at this checkout's entry point.
    failover = Path(sys.executable).with_name("failover")
    assert failover.exists(), "pip install -e . first"
    unit = tmp_path / "failover.service"
    unit.write_text(UNIT.read_text().replace("/opt/failover/bin/failover", str(failover)))
    out = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "failover.service" not in out.stderr, out.stderr  # no warnings about the unit


def test_unit_has_what_the_daemon_relies_on() -> None:
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "StateDirectory=failover",
                 "ConfigurationDirectory=failover", "LoadCredential=", "ExecReload=/bin/kill -HUP $MAINPID"):  # fmt: skip
        assert line in text, line
