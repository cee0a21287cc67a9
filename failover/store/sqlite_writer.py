"""The SQLite store's write side: statements on the event loop, one COMMIT for many calls.

Why: through aiosqlite every statement was a hop to a worker thread and back, with the store
lock held across all of them. Under load each hop waited its turn on a busy loop, so one
delivery's dozen statements held the lock for milliseconds: the lock, not the disk or the CPU,
bounded throughput (114 messages/s with the daemon's thread 70% idle). On one small local
database a statement takes microseconds, so statements run on the loop itself; only what can
block for long runs on one worker thread: COMMIT (the fsync), and BEGIN IMMEDIATE when another
process holds the write lock (the connection's busy timeout is 0, so on the loop it never
waits).

Group commit: store calls that arrive while a COMMIT is on its way run, each as a SAVEPOINT,
inside the next SQLite transaction and share its COMMIT. Every call is answered only after the
COMMIT holding its work has returned, so an acknowledged write is on disk as before. A call
that fails or is cancelled rolls back to its own savepoint and leaves the others alone; a
COMMIT that fails fails every call of its batch, and none of them is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager

from failover.store.sql_store import settle

BUSY_MS = 5000  # how long a write waits for another process's write lock


def _busy(exc: sqlite3.OperationalError) -> bool:
    return exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SqliteWriter:
    """Owns the one write connection: ``transaction()`` joins the batch under way."""

    def __init__(self, conn: sqlite3.Connection, on_commit: Callable[[], None]) -> None:
        self.conn = conn
        self.on_commit = on_commit
        self._lock = asyncio.Lock()  # one call's statements at a time, and none during COMMIT
        self._batch: asyncio.Future[None] | None = None  # the open batch; done once committed
        self._committer: asyncio.Task[None] | None = None
        self._cleanup: Future[None] | None = None  # the ROLLBACK after a cancelled BEGIN
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="failover-sqlite")

    async def blocking(self, call: Callable[[], object]) -> None:
        """Run ``call`` on the connection's worker thread, after everything handed to it
        before (one thread, first come first served)."""
        await asyncio.get_running_loop().run_in_executor(self._thread, call)

    def _execute(self, sql: str) -> Callable[[], object]:
        return lambda: self.conn.execute(sql)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[sqlite3.Connection]:
        """One store call: a savepoint of the open batch, answered when the batch commits."""
        async with self._lock:
            batch = await self._join()
            self.conn.execute("SAVEPOINT call")
            try:
                yield self.conn
                self.conn.execute("RELEASE call")
            except BaseException:
                self._undo(batch)
                raise
        # Shielded: a caller cancelled here does not cancel the batch the others wait for;
        # what it wrote is committed (or fails) with them.
        await asyncio.shield(batch)

    async def _join(self) -> asyncio.Future[None]:
        if self._batch is not None:
            return self._batch
        if self._cleanup is not None:  # a cancelled BEGIN's ROLLBACK is still to run
            await asyncio.shield(asyncio.wrap_future(self._cleanup))
            self._cleanup = None
        try:  # the write connection's busy timeout is 0: this never waits
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
            await self._begin_waiting()  # another process writes (the CLI, a backup)
        batch: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._batch = batch
        # Queued on the lock behind the calls already waiting: they join this batch.
        self._committer = asyncio.create_task(self._commit(batch), name="sqlite-commit")
        return batch

    async def _begin_waiting(self) -> None:
        """BEGIN IMMEDIATE on the thread, waiting up to ``BUSY_MS`` for the write lock."""

        def begin() -> None:
            self.conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            finally:
                self.conn.execute("PRAGMA busy_timeout=0")

        try:
            await self.blocking(begin)
        except asyncio.CancelledError:
            # BEGIN still runs on the thread; undo it there, after it, before anything else.
            self._cleanup = self._thread.submit(self._rollback_quietly)
            raise

    def _undo(self, batch: asyncio.Future[None]) -> None:
        """Take back one call's work; if SQLite already dropped the whole transaction (disk
        full, I/O error), the batch is lost and every call in it is told so."""
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK TO call")
                self.conn.execute("RELEASE call")
                return
            except sqlite3.Error:
                self._rollback_quietly()
        self._fail(batch, sqlite3.OperationalError("the transaction was rolled back"))

    async def _commit(self, batch: asyncio.Future[None]) -> None:
        async with self._lock:
            if batch.done():  # failed while open (see _undo)
                return
            self._batch = None
            commit = asyncio.ensure_future(self.blocking(self._execute("COMMIT")))
            try:
                await settle(commit)  # once sent, a COMMIT is seen through to its answer
            except asyncio.CancelledError:
                self._answer(batch, commit)
                raise
            except Exception:  # every call of the batch is told, below
                await settle(self.blocking(self._rollback_quietly))
            self._answer(batch, commit)

    def _answer(self, batch: asyncio.Future[None], commit: asyncio.Future[None]) -> None:
        """Tell every call of the batch how its COMMIT ended."""
        error = commit.exception()
        if error is not None:
            self._fail(batch, error)
        elif not batch.done():
            self.on_commit()
            batch.set_result(None)

    def _fail(self, batch: asyncio.Future[None], exc: BaseException) -> None:
        if self._batch is batch:
            self._batch = None
        if not batch.done():
            batch.set_exception(exc)
            batch.exception()  # retrieved here: each caller gets it through its shield

    def _rollback_quietly(self) -> None:
        # "no transaction is active" when BEGIN failed or never ran: the state wanted anyway.
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")

    async def close(self) -> None:
        """Let the batch under way commit, then close the connection."""
        while self._committer is not None and not self._committer.done():
            await asyncio.gather(self._committer, return_exceptions=True)
        await self.blocking(self._rollback_quietly)  # a BEGIN left by a cancelled call
        await self.blocking(self.conn.close)
        self._thread.shutdown(wait=True)
