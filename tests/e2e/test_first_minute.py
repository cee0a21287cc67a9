"""The first minute of ``failover run`` with the README's example config, as a new admin sees it:
one short WARNING per channel that is not connected (no ERROR walls), a ready line naming the
web UI and the public page, and — until a token exists — the exact command that makes one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness import free_port
from tests.peers.output_lines import OutputLines

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def example_config(tmp_path: Path) -> tuple[Path, int]:
    port = free_port()
    text = (ROOT / "config.example.toml").read_text()
    text = text.replace('listen = "127.0.0.1:8080"', f'listen = "127.0.0.1:{port}"', 1)
    path = tmp_path / "failover.toml"
    path.write_text(text)
    return path, port


def first_lines(config: Path, until: str, timeout: float = 30.0) -> list[str]:
    """The daemon's log lines up to and including the first that contains ``until``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "FAILOVER_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "failover", "run", "-c", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    output = OutputLines(proc.stdout)
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while (line := output.next(deadline - time.monotonic())) is not None and line:
            lines.append(line.rstrip("\n"))
            if until in line:
                # The token hint follows the ready line: give it a moment.
                more = output.next(2.0)
                if more:
                    lines.append(more.rstrip("\n"))
                return lines
        raise AssertionError("the daemon never said ready:\n" + "\n".join(lines))
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def token(config: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "failover", "token", "create", "--role", "admin", "--name", "me",
         "-c", str(config)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def test_first_start_is_short_and_says_where_to_click_and_how_to_log_in(tmp_path: Path) -> None:
    config, port = example_config(tmp_path)
    lines = first_lines(config, " ready ")
    assert not [line for line in lines if " ERROR " in line], lines
    warnings = [line for line in lines if " WARNING " in line]
    [x] = [w for w in warnings if "x: not connected" in w]
    assert "x: not connected — 4 credentials missing (X_CONSUMER_KEY, X_CONSUMER_SECRET," in x
    assert len(x.split("failover.daemon: ", 1)[1]) < 140, x
    [hook] = [w for w in warnings if "ops-webhook" in w]
    assert hook.endswith(
        "ops-webhook: not connected — 1 credential missing (FAILOVER_WEBHOOK_SECRET)"
    )
    [ready] = [line for line in lines if " ready " in line]
    base = f"http://127.0.0.1:{port}"
    assert f"web UI {base}/ui/" in ready and f"public page {base}/status/" in ready
    hint = lines[-1]
    assert re.search(r"token create --role admin --name me -c \S*failover\.toml$", hint), hint
    assert str(config) in hint

    token(config)
    again = first_lines(config, " ready ")
    assert not [line for line in again if "token create" in line], again
