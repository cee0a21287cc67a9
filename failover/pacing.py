"""Pacing by the platforms' own rate-limit budgets, so a backlog never bursts into 429s.

Adapters report what the headers said (``Receipt.budget``; a ``RateLimitedError`` means none
is left until ``retry_after``). The scheduler starts no more sends on a channel than the
budget allows, keeping one in reserve, and waits for the window's reset when it is spent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

RESERVE = 1


@dataclass
class _Budget:
    remaining: int
    reset_at: datetime


class Pacer:
    def __init__(self) -> None:
        self._budgets: dict[str, _Budget] = {}

    def update(self, channel: str, remaining: int, reset_after: float, now: datetime) -> None:
        self._budgets[channel] = _Budget(
            max(0, remaining), now + timedelta(seconds=max(0.0, reset_after))
        )

    def allowance(self, channel: str, now: datetime) -> int | None:
        """How many sends may start now (None: no known limit)."""
        budget = self._budgets.get(channel)
        if budget is None or now >= budget.reset_at:
            self._budgets.pop(channel, None)
            return None
        return max(0, budget.remaining - RESERVE)

    def spend(self, channel: str, n: int) -> None:
        budget = self._budgets.get(channel)
        if budget is not None:
            budget.remaining = max(0, budget.remaining - n)

    def resume_at(self, channel: str) -> datetime | None:
        """When a spent channel may send again."""
        budget = self._budgets.get(channel)
        return budget.reset_at if budget is not None else None
