"""Durable state behind one interface (``Store``), with an implementation per database."""

from __future__ import annotations

from failover.config import Config
from failover.errors import StoreError
from failover.store.base import NewDelivery, NewEvent, Outcome, QueueStats, Store

__all__ = ["NewDelivery", "NewEvent", "Outcome", "QueueStats", "Store", "open_store"]


def open_store(config: Config, *, exclusive: bool = False) -> Store:
    """The store the config names (not yet opened): SQLite by default."""
    if config.store == "sqlite" or config.store.startswith("sqlite:///"):
        from failover.store.sqlite import SqliteStore

        return SqliteStore(config.database_path, exclusive=exclusive)
    if config.store.startswith(("postgresql://", "postgres://")):
        try:
            from failover.store.postgres import PostgresStore
        except ImportError as exc:
            raise StoreError(
                "store: a postgresql:// store needs psycopg: pip install 'failover[postgres]'"
            ) from exc
        return PostgresStore(
            config.store, password=config.store_password, listen_dsn=config.store_listen
        )
    raise StoreError(
        f'store: unsupported store {config.store!r}; use "sqlite", "sqlite:///path" '
        'or "postgresql://user@host/db"'
    )
