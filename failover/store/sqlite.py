"""The embedded store: one SQLite file in WAL mode, fsynced on every commit.

Writes go through one connection on the event loop, store calls that arrive together sharing
one COMMIT (``sqlite_writer``); reads use a second connection, also on the loop, and see only
committed data. ``synchronous=FULL`` because an acknowledged message must survive a power cut,
not just a crash.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from failover import logs
from failover.errors import StoreError
from failover.filemodes import private_file
from failover.store import queries
from failover.store.sql_access import Row
from failover.store.sql_store import SqlStore
from failover.store.sqlite_writer import BUSY_MS, SqliteWriter

Q = queries.load("sqlite")

logs.quiet_libraries()  # their debug lines print query parameters


class _SqliteTx:
    """A store call's statements, run on the write connection as they come (microseconds
    each): nothing here awaits, so a call's statements are never interleaved with another's."""

    def __init__(self, db: sqlite3.Connection, store: SqlStore) -> None:
        self.db = db
        self.store = store

    async def fetch(self, query: str, **params: Any) -> list[Row]:
        self.store.statements += 1
        return [dict(r) for r in self.db.execute(Q[query], params).fetchall()]

    async def run(self, query: str, params: Mapping[str, Any]) -> int:
        self.store.statements += 1
        return self.db.execute(Q[query], params).rowcount

    async def run_many(self, query: str, params: Sequence[Mapping[str, Any]]) -> None:
        self.store.statements += len(params)
        self.db.executemany(Q[query], params)

    async def notify(self) -> None:
        return None  # one daemon per file: the scheduler is woken in process


MEMORY = ":memory:"


class SqliteStore(SqlStore):
    def __init__(self, path: Path | str, *, exclusive: bool = False) -> None:
        """``exclusive``: take the daemon lock, so one daemon at a time owns this file.

        ``":memory:"`` is a private database that lives as long as the store is open: the
        unit tests' store, with no file, no lock and nothing to fsync; reads share its one
        connection."""
        self.in_memory = str(path) == MEMORY
        self.path = Path(path)
        self.exclusive = exclusive and not self.in_memory
        self._writer: SqliteWriter | None = None
        self._reader: sqlite3.Connection | None = None
        self._large: ThreadPoolExecutor | None = None  # reads of thousands of rows
        self._large_reader: sqlite3.Connection | None = None
        self._lockfile: int | None = None

    # lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        if not self.in_memory:
            self._prepare_files()
        try:
            conn = sqlite3.connect(
                MEMORY if self.in_memory else self.path,
                isolation_level=None,
                check_same_thread=False,  # BEGIN and COMMIT run on the writer's thread
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        self._writer = SqliteWriter(conn, self._committed)
        try:
            await self._writer.blocking(lambda: self._prepare(conn))
            if not self.in_memory:
                self._reader = self._open_reader()
                self._large_reader = self._open_reader(check_same_thread=False)
                self._large = ThreadPoolExecutor(1, thread_name_prefix="failover-sqlite-read")
        except BaseException:
            await self.close()
            raise

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Pragmas and migrations, on the writer's thread (a long migration must not stall
        the event loop)."""
        pragmas = ["PRAGMA foreign_keys=ON", f"PRAGMA busy_timeout={BUSY_MS}"]
        if not self.in_memory:  # a memory database has no journal file to keep
            pragmas[:0] = ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"]
        for pragma in pragmas:
            conn.execute(pragma)
        self._migrate(conn)
        conn.execute("PRAGMA busy_timeout=0")  # from now on the writer waits on its thread

    def _open_reader(self, check_same_thread: bool = True) -> sqlite3.Connection:
        """Reads run on the event loop too: a query on this small local file takes
        microseconds, a hop to a thread and back took longer than the query. Only the few
        reads of thousands of rows (``_all_large``) have a thread and connection of their own."""
        reader = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=check_same_thread
        )
        reader.row_factory = sqlite3.Row
        for pragma in (f"PRAGMA busy_timeout={BUSY_MS}", "PRAGMA query_only=ON"):
            reader.execute(pragma)
        return reader

    def _committed(self) -> None:
        self.commits += 1

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

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = db.execute("SELECT max(version) FROM schema_version").fetchone()
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
                db.executescript(
                    f"BEGIN IMMEDIATE;\n{script}\n"
                    f"INSERT INTO schema_version (version) VALUES ({version});\nCOMMIT;"
                )

    async def close(self) -> None:
        if self._large is not None:
            self._large.shutdown(wait=True)  # a large read under way ends first
            self._large = None
        for reader in (self._reader, self._large_reader):
            if reader is not None:
                reader.close()
        self._reader = self._large_reader = None
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        if self._lockfile is not None:
            os.close(self._lockfile)
            self._lockfile = None

    @property
    def writer(self) -> SqliteWriter:
        if self._writer is None:
            raise StoreError("the store is not open")
        return self._writer

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[_SqliteTx]:
        """One write transaction, answered once its COMMIT (shared with the calls that came
        with it) returned; clean after a cancellation at any await (see ``sqlite_writer``)."""
        async with self.writer.transaction() as db:
            yield _SqliteTx(db, self)

    async def _all(self, query: str, **params: Any) -> list[Row]:
        """Committed data only (a file store's reader is its own connection); in memory the
        one connection also shows the work of calls not yet answered."""
        self.statements += 1
        db = self._reader or self.writer.conn
        return [dict(r) for r in db.execute(Q[query], params).fetchall()]

    async def _all_large(self, query: str, **params: Any) -> list[Row]:
        """Off the loop (the 90 days of component history take tens of milliseconds)."""
        if self._large is None or self._large_reader is None:
            return await self._all(query, **params)
        self.statements += 1
        reader = self._large_reader

        def read() -> list[Row]:
            return [dict(r) for r in reader.execute(Q[query], params).fetchall()]

        return await asyncio.get_running_loop().run_in_executor(self._large, read)

    async def ping(self) -> None:
        try:
            async with self._tx() as db:
                await db.run("write_check", {})
        except (sqlite3.Error, ValueError) as exc:
            raise StoreError(f"store cannot write: {exc}") from exc


def sqlite_files(path: Path) -> list[Path]:
    """The database file and the files SQLite and the daemon lock keep beside it."""
    return [path, Path(f"{path}-wal"), Path(f"{path}-shm"), path.with_suffix(".lock")]
