"""The PostgreSQL store: several daemons on one database, for high availability.

psycopg 3 with an async connection pool. Work is claimed with ``FOR UPDATE SKIP LOCKED`` and a
claim lease (``claimed_by``, ``claim_expires_at``): a daemon that dies loses its claims when the
lease expires, and every write to a delivery is fenced on the claim owner, so a daemon whose
lease lapsed cannot overwrite the work of the one that took over. Migrations run under a
transaction-level advisory lock, so daemons starting together do not race.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from failover import logs
from failover.errors import StoreError
from failover.store import queries
from failover.store.sql_access import Row
from failover.store.sql_store import SqlStore

Q = queries.load("postgres")
log = logging.getLogger("failover.store")
MIGRATION_LOCK = 0x6661696C6F766572  # "failover"
CHANNEL = "failover_work"  # LISTEN/NOTIFY channel: due work was added

logs.quiet_libraries()  # their debug lines print query parameters


# Statements that are a whole transaction on PostgreSQL: the claim brings its messages, the
# outcome writes its attempt and events, all in the one statement (writable CTEs). First in a
# transaction, each runs on its own, committed when answered: one round trip, not two.
WHOLE = frozenset({"claim_due", "finish_delivery"})


class _PgTx:
    """One transaction, begun lazily. Its first statement, if in ``WHOLE``, runs alone (and
    only reads may follow it); otherwise BEGIN goes out with that statement in a pipeline, a
    statement whose answer the caller needs costs one round trip, and those whose answer
    nobody reads (``run_many``, ``notify``) ride with the next one or with the COMMIT. Every
    round trip is a wake-up of the database and of this event loop, which on a busy machine
    each wait their turn for a CPU: fewer of them is the speed."""

    def __init__(
        self,
        conn: psycopg.AsyncConnection[Any],
        store: SqlStore | None = None,
        stack: AsyncExitStack | None = None,
    ) -> None:
        self.conn = conn
        self.store = store
        self._stack = stack  # None: run each statement as it comes (autocommit)
        self.pipeline: psycopg.AsyncPipeline | None = None
        self.begun = False  # BEGIN sent: COMMIT (or ROLLBACK) at the end
        self._alone: str | None = None  # the WHOLE statement that ran first, committed

    async def _before(self, query: str | None) -> None:
        """Begin the transaction unless this statement may run on its own."""
        if self.begun or self._stack is None:
            return
        if self._alone is not None:
            if query is None or not _reads_only(Q[query]):
                raise RuntimeError(f"{query} cannot share a transaction with {self._alone}")
            return  # a read after a committed statement: on its own too
        if query in WHOLE:
            self._alone = query
            return
        self.pipeline = await self._stack.enter_async_context(self.conn.pipeline())
        await self.conn.execute("BEGIN")
        self.begun = True

    def _count(self, n: int = 1) -> None:
        if self.store is not None:
            self.store.statements += n

    async def _answer(self) -> None:
        """Wait for the statements sent so far (in pipeline mode results come at a sync)."""
        if self.pipeline is not None:
            await self.pipeline.sync()

    async def fetch(self, query: str, **params: Any) -> list[Row]:
        self._count()
        await self._before(query)
        async with self.conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(Q[query], params)
            await self._answer()
            rows: list[Row] = list(await cur.fetchall()) if cur.description else []
            return rows

    async def run(self, query: str, params: Mapping[str, Any]) -> int:
        self._count()
        await self._before(query)
        async with self.conn.cursor() as cur:
            await cur.execute(Q[query], params)
            await self._answer()
            return cur.rowcount

    async def run_many(self, query: str, params: Sequence[Mapping[str, Any]]) -> None:
        self._count(len(params))
        await self._before(query)
        async with self.conn.cursor() as cur:
            await cur.executemany(Q[query], params)  # in a pipeline: sent with the next sync

    async def notify(self) -> None:
        await self._before(None)
        await self.conn.execute("NOTIFY " + CHANNEL)  # delivered when the transaction commits


def _reads_only(sql: str) -> bool:
    """Whether a named query is a plain SELECT (its leading comment lines skipped)."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(lines).lstrip().upper().startswith("SELECT")


class PostgresStore(SqlStore):
    shared = True

    def __init__(
        self,
        dsn: str,
        *,
        password: str | None = None,
        max_size: int = 10,
        listen_dsn: str | None = None,
    ) -> None:
        self.dsn = dsn
        self.listen_dsn = listen_dsn or dsn  # LISTEN needs a session: bypass a pooler
        self._password_kwargs: dict[str, Any] = {"password": password} if password else {}
        # Autocommit: a lone read is one round trip, not BEGIN, read, COMMIT; every write
        # that must be atomic runs in an explicit transaction (``_tx``).
        kwargs: dict[str, Any] = {"autocommit": True, **self._password_kwargs}
        self._pool = AsyncConnectionPool(
            dsn, min_size=1, max_size=max_size, kwargs=kwargs, open=False,
            name="failover", timeout=10.0,
        )  # fmt: skip

    async def open(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=15.0)
        except (psycopg.Error, TimeoutError) as exc:
            raise StoreError(f"cannot reach PostgreSQL: {exc}") from exc
        await self._migrate()

    async def _migrate(self) -> None:
        known = queries.migrations("postgres")
        newest = known[-1][0] if known else 0
        async with self._tx_conn() as conn, conn.cursor() as cur:
            await cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            await cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
            )
            await cur.execute("SELECT max(version) FROM schema_version")
            row = await cur.fetchone()
            current = (row[0] if row else None) or 0
            if current > newest:
                raise StoreError(
                    f"the database has schema version {current}, newer than this failover knows "
                    f"({newest}); upgrade failover or point it at a matching database"
                )
            for version, script in known:
                if version > current:
                    await cur.execute(script.encode())  # several statements: no parameters
                    await cur.execute(
                        "INSERT INTO schema_version (version) VALUES (%s)", (version,)
                    )

    async def close(self) -> None:
        await self._pool.close()

    async def ping(self) -> None:
        try:
            async with self._pool.connection(timeout=5.0) as conn, conn.transaction():
                await _PgTx(conn).run("write_check", {})
        except (psycopg.Error, TimeoutError) as exc:
            raise StoreError(f"store cannot write: {exc}") from exc

    @asynccontextmanager
    async def _tx_conn(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                yield conn
        except psycopg.OperationalError as exc:
            raise StoreError(f"PostgreSQL: {exc}") from exc

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[_PgTx]:
        """A transaction (see ``_PgTx``) whose COMMIT goes with the final sync of its pipeline;
        that answer is awaited before the caller goes on, so nothing is acknowledged before it
        is durable. (psycopg's ``transaction()`` in a pipeline syncs on entering and on
        leaving: two more round trips.) A cancellation while a sync is out is psycopg's: it
        cancels the statement on the server and reads the outcome."""
        try:
            async with self._pool.connection() as conn:
                try:
                    async with AsyncExitStack() as stack:
                        tx = _PgTx(conn, self, stack)
                        yield tx
                        if tx.begun:
                            await conn.execute("COMMIT")
                finally:
                    if conn.info.transaction_status != TransactionStatus.IDLE:
                        await _rollback(conn)  # failed or cut short: not committed
        except psycopg.OperationalError as exc:
            raise StoreError(f"PostgreSQL: {exc}") from exc
        self.commits += 1

    async def listen(self, wake: Callable[[], None]) -> None:
        """LISTEN on a dedicated connection (never a pooled one: a pooler in transaction mode
        would drop it; ``store_listen`` points it past PgBouncer); reconnects after a failure. Schedulers also wake on their own at the
        next due time and at least every 30 s, so a lost notification only delays work."""
        delay = 1.0
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.listen_dsn, autocommit=True, **self._password_kwargs
                )
                async with conn:
                    await conn.execute("LISTEN " + CHANNEL)
                    delay = 1.0
                    wake()  # anything added while we were not listening
                    async for _ in conn.notifies():
                        wake()
            except psycopg.Error as exc:
                log.warning("LISTEN connection lost (%s); reconnecting in %.0fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _all(self, query: str, **params: Any) -> list[Row]:
        """One statement on its own (autocommit): one round trip."""
        try:
            async with self._pool.connection() as conn:
                return await _PgTx(conn, self).fetch(query, **params)
        except psycopg.OperationalError as exc:
            raise StoreError(f"PostgreSQL: {exc}") from exc


async def _rollback(conn: psycopg.AsyncConnection[Any]) -> None:
    """End a transaction that failed or was cut short. If even that fails, the pool, seeing
    the connection not idle when it comes back, rolls it back or discards it."""
    try:
        await conn.execute("ROLLBACK")
    except psycopg.Error as exc:
        log.debug("rollback failed: %s", exc)
