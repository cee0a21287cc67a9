"""PostgreSQL transactions run in one pipeline: statements whose answer nobody reads (events,
NOTIFY) are sent with the COMMIT. What that must not change: a failure anywhere in the
transaction keeps none of it, the connection is clean afterwards, and a write is committed,
visible to other sessions, by the time the call returns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from failover.store.base import NewEvent
from tests.peers.postgres_db import throwaway_database

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def pg() -> AsyncIterator[tuple[Any, str]]:
    from failover.store.postgres import PostgresStore

    with throwaway_database() as dsn:
        store = PostgresStore(dsn, max_size=1)  # one connection: the next call reuses it
        await store.open()
        yield store, dsn
        await store.close()


async def test_a_failure_in_a_statement_sent_with_the_commit_keeps_nothing(
    pg: tuple[Any, str],
) -> None:
    store, _ = pg
    # The events go out in one batch with the COMMIT; the second breaks NOT NULL.
    with pytest.raises(psycopg.errors.NotNullViolation):
        await store.add_events([NewEvent("first"), NewEvent(None)], T0)  # type: ignore[arg-type]
    await store.add_events([NewEvent("after")], T0)  # the same connection, usable again
    assert [e.kind for e in await store.events(limit=10)] == ["after"]
    async with store._pool.connection() as conn:
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


async def test_a_write_is_committed_when_the_call_returns(pg: tuple[Any, str]) -> None:
    store, dsn = pg
    await store.add_events([NewEvent("durable")], T0)
    with psycopg.connect(dsn) as other:  # another session sees only what was committed
        kinds = [r[0] for r in other.execute("SELECT kind FROM events").fetchall()]
    assert kinds == ["durable"]
    assert store.commits >= 1


async def test_a_statement_run_on_its_own_takes_no_write_after_it(pg: tuple[Any, str]) -> None:
    """claim_due and finish_delivery are whole transactions on PostgreSQL, committed when
    answered: a write after one in the same block could not be atomic with it, so it is
    refused rather than run."""
    store, _ = pg
    now = T0.timestamp()
    async with store._tx() as db:
        rows = await db.fetch(
            "claim_due", channel="x", now=now, owner="me", lease_until=now + 60, limit=5
        )
        assert rows == []
        assert await db.fetch("list_tokens") == []  # a read after it: fine
        with pytest.raises(RuntimeError, match="cannot share a transaction"):
            await db.run("insert_events", {"at": now, "events": "[]"})
