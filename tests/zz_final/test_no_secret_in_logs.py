"""Runs last: no test secret (API tokens and their hashes, web session secrets and their
hashes, channel credentials) appears in anything the suite logged, in process or by daemon
subprocesses, with every logger of the suite at DEBUG, the store libraries included."""

from __future__ import annotations

import json
import logging

from tests import secrets_registry


def test_no_secret_reached_any_log() -> None:
    assert secrets_registry.LOG_DIR is not None
    files = [p for p in secrets_registry.LOG_DIR.rglob("*.log") if p.is_file()]
    text = {p: p.read_text(errors="replace") for p in files}
    assert sum(len(t) for t in text.values()) > 0, (
        "nothing was logged: this check would prove nothing"
    )
    if not secrets_registry.SECRETS:
        return  # run alone: no test registered a secret
    leaks = [
        (p.name, s[:4] + "…") for p, t in text.items() for s in secrets_registry.SECRETS if s in t
    ]
    assert not leaks, f"secrets found in logs: {leaks}"


def test_the_suite_logged_at_debug_level_store_libraries_included() -> None:
    """The check above covers DEBUG: the suite's handler and the store libraries are at DEBUG
    (nothing is hidden by a level), and debug records were really written."""
    assert logging.getLogger().level == logging.DEBUG
    for name in ("psycopg", "failover"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.DEBUG, name
    assert secrets_registry.LOG_DIR is not None
    in_process = secrets_registry.LOG_DIR / "in-process.log"
    levels = {json.loads(line)["levelname"] for line in in_process.read_text().splitlines()}
    assert "DEBUG" in levels
