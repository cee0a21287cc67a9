"""Leadership is news only where there is a choice: a daemon alone on SQLite never logs it,
and in a cluster every "no longer leading" is followed by a matching "leading again"."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from failover.errors import StoreError
from tests.harness import start_daemon, write_config
from tests.peers.postgres_db import throwaway_database

BODY = """
[channels.status]
type = "feed"

[routes.default]
tiers = [["status"]]
"""


def leadership(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "lead" in r.getMessage()]


async def broken(*args: object) -> None:
    raise StoreError("database is locked")


async def test_a_lone_sqlite_daemon_never_logs_leadership(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG, "failover")
    h = await start_daemon(write_config(tmp_path, BODY))
    d = h.daemon
    try:
        monkeypatch.setattr(d.store, "heartbeat", broken)
        monkeypatch.setattr(d.store, "try_lead", broken)
        d.cluster._lease_renewed -= 3600  # long past any renewal deadline
        for _ in range(3):
            await d.cluster.tick()
        assert d.cluster.leading
        monkeypatch.undo()
        await d.cluster.tick()
    finally:
        await d.stop()
    assert leadership(caplog) == []


async def test_in_a_cluster_no_longer_leading_is_followed_by_leading_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, "failover")
    with throwaway_database() as dsn:
        path = write_config(tmp_path, BODY)
        path.write_text(f'store = "{dsn}"\n' + path.read_text())
        h = await start_daemon(path)
        d = h.daemon
        try:
            assert d.cluster.leading
            monkeypatch.setattr(d.store, "try_lead", broken)
            d.cluster._lease_renewed -= 3600
            await d.cluster.tick()
            assert not d.cluster.leading
            monkeypatch.undo()
            await d.cluster.tick()
            assert d.cluster.leading
        finally:
            await d.stop()
    said = leadership(caplog)
    assert said[0].startswith("this daemon now leads")
    down = [i for i, m in enumerate(said) if m.startswith("no longer leading")]
    assert down and all(
        said[i + 1].startswith("leading again") and said[i].split(": ", 1)[1] in said[i + 1]
        for i in down
    ), said
