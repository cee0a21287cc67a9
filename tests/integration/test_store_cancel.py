"""A store call cancelled at any await point leaves the store usable, on both backends.

Shutdown, a lease renewal's time budget and ``asyncio.timeout`` all cancel store calls in the
middle. Each test parks a write at one point (waiting for the write lock, inside its
transaction, while committing), cancels it there, and then proves the next writes work and
the cancelled one left either nothing (before COMMIT) or everything (COMMIT sent).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from failover.store.base import NewEvent, Store
from failover.store.sqlite import SqliteStore, _SqliteTx
from failover.store.sqlite_writer import SqliteWriter
from tests.peers.postgres_db import throwaway_database

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        s: Store = SqliteStore(tmp_path / "failover.db", exclusive=True)
        await s.open()
        yield s
        await s.close()
        return
    with throwaway_database() as dsn:
        from failover.store.postgres import PostgresStore

        s = PostgresStore(dsn, max_size=2)
        await s.open()
        yield s
        await s.close()


async def kinds(store: Store) -> list[str]:
    return [e.kind for e in await store.events(limit=100)]


async def cancel_when(started: asyncio.Event, work: Awaitable[None]) -> None:
    task = asyncio.ensure_future(work)
    await asyncio.wait_for(started.wait(), 10)
    await asyncio.sleep(0.05)  # the write is now parked at the point under test
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def still_works(store: Store) -> None:
    """Several writes and reads in a row, as the daemon does right after."""
    for i in range(3):
        await asyncio.wait_for(store.add_events([NewEvent(f"after.{i}")], T0), 10)
    await asyncio.wait_for(store.ping(), 10)
    assert {"after.0", "after.1", "after.2"} <= set(await kinds(store))


async def test_cancelled_while_waiting_for_the_write_lock(store: Store, tmp_path: Path) -> None:
    """Another writer holds the lock; the cancelled write waits behind it, then is gone."""
    started = asyncio.Event()
    if isinstance(store, SqliteStore):
        other = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # SQLite's one write lock, held by someone else

        async def release() -> None:
            other.execute("ROLLBACK")
            other.close()

        loop = asyncio.get_running_loop()
        loop.call_later(0.01, started.set)
    else:
        import psycopg

        from failover.store.postgres import PostgresStore

        assert isinstance(store, PostgresStore)
        other_pg = await psycopg.AsyncConnection.connect(store.dsn)
        await other_pg.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        asyncio.get_running_loop().call_later(0.3, started.set)

        async def release() -> None:
            await other_pg.rollback()
            await other_pg.close()

    await cancel_when(started, store.add_events([NewEvent("cancelled")], T0))
    await release()
    await still_works(store)
    assert "cancelled" not in await kinds(store)


def park_after(
    monkeypatch: pytest.MonkeyPatch, store: Store, started: asyncio.Event
) -> Callable[[], None]:
    """Park the next ``run`` of add_events' INSERT after it ran, inside the transaction."""
    gate = asyncio.Event()
    tx_class: type[Any]
    if isinstance(store, SqliteStore):
        tx_class = _SqliteTx
    else:
        from failover.store.postgres import _PgTx

        tx_class = _PgTx
    real = tx_class.run

    async def parked(self: Any, query: str, params: Any) -> int:
        n: int = await real(self, query, params)
        if query == "insert_events" and not started.is_set():
            started.set()
            await gate.wait()
        return n

    monkeypatch.setattr(tx_class, "run", parked)
    return gate.set


async def test_cancelled_inside_a_transaction_rolls_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = asyncio.Event()
    park_after(monkeypatch, store, started)
    await cancel_when(started, store.add_events([NewEvent("cancelled")], T0))
    await still_works(store)
    assert "cancelled" not in await kinds(store)


async def test_cancelled_during_commit_finishes_the_commit(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """COMMIT was sent: the write is kept (what happened is recorded), and nothing hangs."""
    started = asyncio.Event()
    if isinstance(store, SqliteStore):
        real_blocking = SqliteWriter.blocking

        async def slow_commit(self: SqliteWriter, call: Any) -> None:
            if not started.is_set() and self.conn.in_transaction:  # COMMIT, not BEGIN
                # COMMIT is with the database; its answer is late (a slow fsync).
                pending = asyncio.ensure_future(real_blocking(self, call))
                started.set()
                await asyncio.sleep(0.3)
                return await pending
            return await real_blocking(self, call)

        monkeypatch.setattr(SqliteWriter, "blocking", slow_commit)
    else:
        import psycopg

        real_execute = psycopg.AsyncConnection.execute

        async def commit_sent(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            if query == "COMMIT":  # queued in the transaction's pipeline; sent at its sync
                started.set()
            return await real_execute(self, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.AsyncConnection, "execute", commit_sent)
        real_wait = psycopg.AsyncConnection.wait

        async def slow_wait(self: Any, gen: Any, *args: Any, **kwargs: Any) -> Any:
            result = await real_wait(self, gen, *args, **kwargs)
            if started.is_set() and not getattr(self, "_slowed", False):
                self._slowed = True
                await asyncio.sleep(0.3)  # the COMMIT's answer arrives late
            return result

        monkeypatch.setattr(psycopg.AsyncConnection, "wait", slow_wait)
    await cancel_when(started, store.add_events([NewEvent("committed")], T0))
    monkeypatch.undo()
    await still_works(store)
    assert "committed" in await kinds(store)


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
async def test_cancelled_while_reading_leaves_writes_working(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read cut off between its query and its rows (a client gone, a timeout). PostgreSQL
    only: a SQLite read runs on the event loop without an await, so nothing can cut it off."""
    await store.add_events([NewEvent(f"before.{i}") for i in range(50)], T0)
    started = asyncio.Event()
    from failover.store.postgres import _PgTx

    real_pg_fetch = _PgTx.fetch

    async def slow_pg_fetch(self: Any, query: str, **params: Any) -> Any:
        rows = await real_pg_fetch(self, query, **params)
        started.set()
        await asyncio.sleep(30)
        return rows

    monkeypatch.setattr(_PgTx, "fetch", slow_pg_fetch)
    await cancel_when(started, _read(store))
    monkeypatch.undo()
    await still_works(store)


async def _read(store: Store) -> None:
    await store.events(limit=100)
