"""Suite-wide fixtures: every log line the suite writes is kept, so a final test can prove
that no test secret ever reached a log (tests/zz_final/test_no_secret_in_logs.py, scheduled
last by ``pytest_collection_modifyitems`` below, whatever its name or the order of the files).
Tests that need a system tool skip and are summarised by tests/system_tools.py."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pytest
from pythonjsonlogger.json import JsonFormatter

from tests import secrets_registry, system_tools

_LOG_DIR = Path(tempfile.mkdtemp(prefix="failover-test-logs-"))
secrets_registry.LOG_DIR = _LOG_DIR
# Modules whose tests check what every other test left behind: they run after all the rest.
RUN_LAST = ("tests/zz_final/test_no_secret_in_logs.py",)


def pytest_configure(config: pytest.Config) -> None:
    system_tools.pytest_configure(config)
    handler = logging.FileHandler(_LOG_DIR / "in-process.log")
    # JSON keeps every structured field (extra=...), which is where a secret could hide.
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    # The store libraries stay at DEBUG: failover must keep their query parameters (token and
    # session hashes) out of the logs by itself (failover/logs.py, quiet_libraries).
    logging.getLogger("psycopg").setLevel(logging.DEBUG)  # else psycopg sets WARNING on import
    for noisy in ("asyncio", "hpack", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.INFO)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Moves the RUN_LAST checks to the end of the run (a stable partition, order kept)."""
    last = [i for i in items if i.nodeid.split("::", 1)[0] in RUN_LAST]
    if last:
        items[:] = [i for i in items if i not in last] + last
