"""Throwaway databases on the machine's PostgreSQL server, for the store and cluster tests.

``FAILOVER_TEST_PG_DSN`` names the server (default: postgres on 127.0.0.1:5432, trust auth, as
on the CI machines). Where no server answers, the tests that need one skip and say how to
enable them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tests import system_tools

if TYPE_CHECKING:
    import psycopg

ADMIN_DSN = os.environ.get("FAILOVER_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    import psycopg  # imported late: the suite runs without the postgres extra

    return psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=3)


def available() -> str | None:
    """None when a server answers, else why not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed: pip install -e '.[postgres]'"
    try:
        with _admin() as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return (
            f"no PostgreSQL server at {ADMIN_DSN} ({str(exc).strip()[:120]}): start one, or set "
            "FAILOVER_TEST_PG_DSN to a server where this user may CREATE DATABASE"
        )
    return None


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A new empty database; yields its DSN; dropped afterwards."""
    why = available()
    if why is not None:
        system_tools.missing(f"a PostgreSQL server ({why})", system_tools.INSTALL_ALL)
    name = f"failover_test_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    base, _, _ = ADMIN_DSN.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
