"""Suite-wide fixtures: every log line the suite writes is kept, so a final test can prove
that no test secret ever reached a log (tests/zz_final/test_no_secret_in_logs.py)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from pythonjsonlogger.json import JsonFormatter

from tests import secrets_registry

_LOG_DIR = Path(tempfile.mkdtemp(prefix="failover-test-logs-"))
secrets_registry.LOG_DIR = _LOG_DIR


def pytest_configure() -> None:
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
