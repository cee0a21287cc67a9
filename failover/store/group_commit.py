"""Group commit for the SQLite store: transactions that arrive together share one COMMIT.

With ``synchronous=FULL`` every COMMIT waits for an fsync, and on a busy disk that wait, not
the SQL, is what a delivery costs. So the store's transactions run as savepoints inside one
open SQLite transaction, and every transaction that queued for the connection while the
previous COMMIT was on its way joins the next one. Each caller is answered only after the
COMMIT that holds its work has returned: an acknowledged message is on disk, as before.

A transaction that fails or is cancelled rolls back to its own savepoint and leaves the
others of its batch alone; a COMMIT that fails fails every transaction of its batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiosqlite

from failover.errors import StoreError
from failover.store.sql_store import settle


class GroupCommit:
    """The write side of one SQLite connection: ``transaction()`` as a savepoint of the
    batch under way, acknowledged when the batch commits."""

    def __init__(self, on_commit: Callable[[], None]) -> None:
        self.db: aiosqlite.Connection | None = None
        self.on_commit = on_commit
        self._lock = asyncio.Lock()
        self._batch: asyncio.Future[None] | None = None  # done when the open batch commits
        self._committer: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            db = self._open()
            batch = await self._join(db)
            try:
                await db.execute("SAVEPOINT tx")
                yield db
                await settle(db.execute("RELEASE tx"))
            except BaseException:
                await settle(self._undo(db, batch))
                raise
        await settle(batch)  # answered only once the COMMIT holding this work has returned

    async def close(self) -> None:
        """Let the batch under way commit, then close the connection."""
        if self._committer is not None:
            await asyncio.gather(self._committer, return_exceptions=True)
        if self.db is not None:
            await self.db.close()
            self.db = None

    def _open(self) -> aiosqlite.Connection:
        if self.db is None:
            raise StoreError("the store is not open")
        return self.db

    async def _join(self, db: aiosqlite.Connection) -> asyncio.Future[None]:
        """The batch under way, or a new one (BEGIN, and its COMMIT queued behind every
        transaction already waiting for the connection)."""
        if self._batch is not None:
            return self._batch
        try:
            await db.execute("BEGIN IMMEDIATE")
        except BaseException:
            await settle(_rollback(db))
            raise
        batch: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        batch.add_done_callback(_retrieved)  # a failed batch whose members all left is no news
        self._batch = batch
        self._committer = asyncio.create_task(self._commit(batch), name="sqlite-commit")
        return batch

    async def _commit(self, batch: asyncio.Future[None]) -> None:
        async with self._lock:
            if self._batch is not batch:
                return  # already failed (its transaction was lost) and answered
            self._batch = None
            db = self._open()
            try:
                await settle(db.execute("COMMIT"))
            except sqlite3.Error as exc:
                await settle(_rollback(db))  # a failed COMMIT leaves the transaction open
                batch.set_exception(exc)
                return
            self.on_commit()
            batch.set_result(None)

    async def _undo(self, db: aiosqlite.Connection, batch: asyncio.Future[None]) -> None:
        """Roll back one transaction of the batch. If SQLite dropped the whole transaction
        (some errors do), the batch is lost: its members are told, and the next starts anew."""
        try:
            await db.execute("ROLLBACK TO tx")
            await db.execute("RELEASE tx")
        except (sqlite3.Error, ValueError) as exc:
            await _rollback(db)
            if not batch.done():
                batch.set_exception(StoreError(f"the transaction was lost: {exc}"))
            if self._batch is batch:
                self._batch = None


def _retrieved(batch: asyncio.Future[None]) -> None:
    if not batch.cancelled():
        batch.exception()


async def _rollback(db: aiosqlite.Connection) -> None:
    # "no transaction is active" when BEGIN failed or never ran: the state wanted anyway.
    with contextlib.suppress(sqlite3.Error, ValueError):
        await db.execute("ROLLBACK")
