"""The unit layer's parts: a store in memory and a clock moved by hand, so the core's
decisions are tested with no sockets, no files of the store's and no sleeping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from failover.clock import FakeClock
from failover.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    """Starts at ``T0``; ``clock.advance(s)`` moves wall and monotonic time together."""
    return FakeClock(T0)


@pytest.fixture
async def store() -> AsyncIterator[SqliteStore]:
    """A migrated SQLite database in memory, private to the test, gone when it ends."""
    s = SqliteStore(":memory:")
    await s.open()
    yield s
    await s.close()
