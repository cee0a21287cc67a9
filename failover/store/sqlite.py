"""The embedded store: one SQLite file in WAL mode, fsynced on every commit.

One connection serves the whole daemon; an asyncio lock makes each method one transaction
(SQLite serialises writers anyway). ``synchronous=FULL`` because an acknowledged message
must survive a power cut, not just a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from failover import logs
from failover.errors import StoreError
from failover.filemodes import private_file
from failover.store import queries
from failover.store.sql_store import Row, SqlStore, settle

Q = queries.load("sqlite")

logs.quiet_libraries()  # their debug lines print query parameters


class _SqliteTx:
    def __init__(self, db: aiosqlite.Connection, store: SqlStore) -> None:
        self.db = db
        self.store = store

    async def fetch(self, query: str, **params: Any) -> list[Row]:
        self.store.statements += 1
        async with self.db.execute(Q[query], params) as cur:
            return [dict(r) for r in await cur.fetchall()]

    async def run(self, query: str, params: Mapping[str, Any]) -> int:
        self.store.statements += 1
        cur = await self.db.execute(Q[query], params)
        return cur.rowcount

    async def run_many(self, query: str, params: Sequence[Mapping[str, Any]]) -> None:
        self.store.statements += len(params)
        await self.db.executemany(Q[query], params)

    async def notify(self) -> None:
        return None  # one daemon per file: the scheduler is woken in process


async def _rollback(db: aiosqlite.Connection) -> None:
    # "no transaction is active" when BEGIN failed or never ran: the state wanted anyway.
    with contextlib.suppress(sqlite3.Error, ValueError):
        await db.execute("ROLLBACK")


MEMORY = ":memory:"


class SqliteStore(SqlStore):
    def __init__(self, path: Path | str, *, exclusive: bool = False) -> None:
        """``exclusive``: take the daemon lock, so one daemon at a time owns this file.

        ``":memory:"`` is a private database that lives as long as the store is open: the
        unit tests' store, with no file, no lock and nothing to fsync."""
        self.in_memory = str(path) == MEMORY
        self.path = Path(path)
        self.exclusive = exclusive and not self.in_memory
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._lockfile: int | None = None

    # lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        if not self.in_memory:
            self._prepare_files()
        try:
            self._db = await aiosqlite.connect(
                MEMORY if self.in_memory else self.path, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        self._db.row_factory = sqlite3.Row
        pragmas = ["PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=5000"]
        if not self.in_memory:  # a memory database has no journal file to keep
            pragmas[:0] = ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"]
        for pragma in pragmas:
            await self._db.execute(pragma)
        await self._migrate()

    def _prepare_files(self) -> None:
        """The folder, the daemon lock, and the files 0600 whatever the umask (SQLite gives
        its WAL and SHM files the database file's mode)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.exclusive:
            self._take_daemon_lock()
        for path in sqlite_files(self.path):
            if path == self.path or path.exists():
                private_file(path)

    def _take_daemon_lock(self) -> None:
        lock_path = self.path.with_suffix(".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(
                f"another failover daemon is using {self.path} (lock {lock_path} is held); "
                "to run several daemons, use a PostgreSQL store"
            ) from None
        self._lockfile = fd

    async def _migrate(self) -> None:
        db = self._conn
        await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        async with db.execute("SELECT max(version) FROM schema_version") as cur:
            row = await cur.fetchone()
        current = (row[0] if row else None) or 0
        known = queries.migrations("sqlite")
        newest = known[-1][0] if known else 0
        if current > newest:
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this failover knows "
                f"({newest}); upgrade failover or restore a matching database"
            )
        for version, script in known:
            if version > current:
                await db.executescript(
                    f"BEGIN IMMEDIATE;\n{script}\n"
                    f"INSERT INTO schema_version (version) VALUES ({version});\nCOMMIT;"
                )

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None
        if self._lockfile is not None:
            os.close(self._lockfile)
            self._lockfile = None

    @property
    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("the store is not open")
        return self._db

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[_SqliteTx]:
        """One write transaction, clean after a cancellation at any await (the lock, BEGIN
        IMMEDIATE waiting for SQLite's write lock, a statement, COMMIT). A statement handed to
        aiosqlite's thread runs even if its awaiter is cancelled, so the ROLLBACK is queued
        behind it and seen through before the lock is let go; a COMMIT once sent is awaited
        to its end, so what it wrote is known to be written."""
        async with self._lock:
            db = self._conn
            try:
                await db.execute("BEGIN IMMEDIATE")
                yield _SqliteTx(db, self)
            except BaseException:
                await settle(_rollback(db))
                raise
            try:
                await settle(db.execute("COMMIT"))
                self.commits += 1
            except sqlite3.Error:
                await settle(_rollback(db))  # a failed COMMIT leaves the transaction open
                raise

    async def _all(self, query: str, **params: Any) -> list[Row]:
        self.statements += 1
        async with self._lock, self._conn.execute(Q[query], params) as cur:
            return [dict(r) for r in await cur.fetchall()]

    async def ping(self) -> None:
        try:
            async with self._tx() as db:
                await db.run("write_check", {})
        except (sqlite3.Error, ValueError) as exc:
            raise StoreError(f"store cannot write: {exc}") from exc


def sqlite_files(path: Path) -> list[Path]:
    """The database file and the files SQLite and the daemon lock keep beside it."""
    return [path, Path(f"{path}-wal"), Path(f"{path}-shm"), path.with_suffix(".lock")]
