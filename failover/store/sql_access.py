"""What the SQL parts of the store (messages, status page, subscribers, fediverse) need from a
dialect: a transaction and two ways to read. Declared once here, so each part and the dialects
agree on one definition."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

Row = Mapping[str, Any]


class Tx(Protocol):
    """One open transaction of a dialect."""

    async def fetch(self, query: str, **params: Any) -> list[Row]:
        """Run a named query; return its rows."""

    async def run(self, query: str, params: Mapping[str, Any]) -> int:
        """Run a named query; return how many rows it changed."""

    async def run_many(self, query: str, params: Sequence[Mapping[str, Any]]) -> None:
        """Run a named query once per parameter set."""

    async def notify(self) -> None:
        """Tell the other daemons, when this transaction commits, that due work was added."""


class SqlAccess(abc.ABC):
    """A dialect's transactions and reads, on named queries."""

    @abc.abstractmethod
    def _tx(self) -> AbstractAsyncContextManager[Tx]:
        """A transaction: committed when the block ends, rolled back if it raises."""

    @abc.abstractmethod
    async def _all(self, query: str, **params: Any) -> list[Row]:
        """A read outside any transaction."""

    async def _all_large(self, query: str, **params: Any) -> list[Row]:
        """A read that may return thousands of rows; a dialect may keep it off the loop."""
        return await self._all(query, **params)
