"""Test secrets and the log files the suite wrote, for the final no-secret-in-logs check."""

from __future__ import annotations

import tempfile
from pathlib import Path

LOG_DIR: Path | None = None
SECRETS: set[str] = set()


def secret(value: str) -> str:
    """Register ``value`` as a secret that must never appear in any log; returns it."""
    SECRETS.add(value)
    return value


def log_file(name: str) -> Path:
    """A path in the suite's log directory (for daemon subprocess output).

    Outside pytest (the benchmarks reuse the test helpers) logs go to a temporary directory.
    """
    global LOG_DIR
    if LOG_DIR is None:
        LOG_DIR = Path(tempfile.mkdtemp(prefix="failover-logs-"))
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    return LOG_DIR / name
