"""Readiness and the watchdog tell the truth: they fail while the store cannot write (with a
reason that names no host, user or path), recover by themselves, and a side task that dies
is restarted instead of turning into a false "loop stalled"."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from failover.config import load_config
from failover.daemon import Daemon
from failover.metrics import Metrics
from failover.notify import Notifier
from failover.scheduler import Scheduler
from failover.supervise import Supervisor
from failover.vitals import Vitals
from tests.harness import Harness, eventually, start_daemon, write_config
from tests.peers.postgres_db import throwaway_database
from tests.peers.tcp_proxy import FreezableProxy

CONFIG = """
[channels.status]
type = "feed"

[routes.default]
tiers = [["status"]]
"""


@pytest.fixture
async def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # heartbeat every 0.1 s (no socket: no pings)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    h = await start_daemon(write_config(tmp_path, CONFIG))
    h.daemon.vitals.store_timeout = 0.3
    yield h
    await h.daemon.stop()


async def readyz(h: Harness) -> tuple[int, dict[str, str]]:
    status, body = await h.request("GET", "/readyz", role=None)
    return status, body


async def test_readyz_fails_while_the_store_cannot_write_and_recovers(
    daemon: Harness, tmp_path: Path
) -> None:
    assert (await readyz(daemon))[0] == 200
    db = daemon.daemon.config.database_path
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds SQLite's write lock
    try:

        async def not_ready() -> bool:
            return (await readyz(daemon))[0] == 503

        await eventually(not_ready, timeout=5)
        _, body = await readyz(daemon)
        assert body["reason"].startswith("the store"), body
        assert str(tmp_path) not in body["reason"] and "failover.db" not in body["reason"]
        assert (await daemon.request("GET", "/healthz", role=None))[0] == 200  # alive all along
    finally:
        other.execute("ROLLBACK")
        other.close()

    async def ready() -> bool:
        return (await readyz(daemon))[0] == 200

    await eventually(ready, timeout=10)  # by itself, no restart
    await daemon.post(text="written after the store came back")


async def test_a_dead_heartbeat_is_restarted_not_reported_as_a_stalled_loop(
    daemon: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    vitals = daemon.daemon.vitals
    real = vitals.check_store
    calls = 0

    async def once_broken() -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("unexpected")
        return await real()

    monkeypatch.setattr(vitals, "check_store", once_broken)
    with caplog.at_level(logging.WARNING):
        await eventually(lambda: calls >= 3, timeout=10)
    failed = [r for r in caplog.records if r.getMessage() == "side task heartbeat failed"]
    assert failed and failed[0].exc_info is not None
    assert daemon.daemon.supervisor.restarts["heartbeat"] == 1
    assert (await readyz(daemon))[0] == 200


async def test_watchdog_pings_only_while_the_store_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock_path = str(tmp_path / "notify.sock")
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    systemd.bind(sock_path)
    systemd.setblocking(False)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # a ping every 0.1 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    config = load_config(write_config(tmp_path, CONFIG))
    daemon = Daemon(config, notifier=Notifier(sock_path))
    daemon.vitals.store_timeout = 0.3
    await daemon.start()

    def pings() -> int:
        count = 0
        while True:
            try:
                count += b"WATCHDOG=1" in systemd.recv(4096)
            except BlockingIOError:
                return count

    try:
        await asyncio.sleep(0.5)
        assert pings() >= 2
        other = sqlite3.connect(config.database_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        await asyncio.sleep(0.4)  # a check in flight may still have passed
        pings()
        await asyncio.sleep(1.0)
        assert pings() == 0  # the store cannot write: no "all is well" for systemd
        other.execute("ROLLBACK")
        other.close()
        await asyncio.sleep(6)  # the write stuck behind the lock gives up (busy_timeout 5 s)
        assert pings() >= 2
    finally:
        await daemon.stop()
        systemd.close()


async def test_postgres_readiness_reason_names_no_host_or_user() -> None:
    with throwaway_database() as dsn:
        from failover.store.postgres import PostgresStore

        host_port = dsn.split("@", 1)[1].split("/", 1)[0]
        host, port = host_port.rsplit(":", 1)
        async with FreezableProxy(host, int(port)) as proxy:
            proxied = dsn.replace(host_port, f"127.0.0.1:{proxy.port}")
            store = PostgresStore(proxied, max_size=1)
            await store.open()
            vitals = Vitals(store, Notifier(""), Metrics(), _status, store_timeout=1.0)
            vitals.start()
            assert await vitals.check_store() and vitals.problem() is None
            proxy.freeze()  # a partition: the database hangs rather than refuses
            assert not await vitals.check_store()
            why = vitals.problem()
            assert why is not None and why.startswith("the store")
            for secretive in ("127.0.0.1", "postgres", str(proxy.port), "failover_test"):
                assert secretive not in why
            proxy.thaw()
            await eventually(vitals.check_store, timeout=20)
            assert vitals.problem() is None
            vitals.stop()
            await store.close()


async def _status() -> str:
    return "ok"


async def test_a_side_task_that_keeps_failing_makes_the_daemon_exit_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(self: Scheduler) -> None:
        raise RuntimeError("a bug in the scheduler")

    monkeypatch.setattr(Scheduler, "run", broken)
    daemon = Daemon(load_config(write_config(tmp_path, CONFIG)))
    daemon.supervisor = Supervisor(daemon._fatal, max_restarts=2, delay=lambda n: 0.01)
    code = await asyncio.wait_for(daemon.run(), 30)
    assert code == 1  # systemd's Restart=on-failure starts a fresh process
    gave_up = [r for r in caplog.records if r.getMessage().startswith("side task scheduler failed")]
    assert len(gave_up) >= 3 and all(r.exc_info for r in gave_up[:3])


async def test_a_lease_renewal_that_runs_out_of_time_leaves_the_store_working(
    daemon: Harness,
) -> None:
    d = daemon.daemon
    other = sqlite3.connect(d.config.database_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the renewal's write waits behind this
    with pytest.raises(TimeoutError):
        await d.cluster.renew(d.config.leader_lease, d.clock.now(), 0.2)
    other.execute("ROLLBACK")
    other.close()
    epoch = await d.cluster.renew(d.config.leader_lease, d.clock.now(), 10.0)  # waits out the first
    assert epoch is not None
    await daemon.post(text="written after a renewal was cut short")
