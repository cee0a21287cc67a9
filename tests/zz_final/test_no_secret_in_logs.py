"""Runs last: no test secret appears in anything the suite logged (in process or daemons)."""

from __future__ import annotations

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
