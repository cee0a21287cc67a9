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
    """Per channel: *unmetered* (its answers carry no budget: only its concurrency limits
    it), *metered* (the last budget it reported, until that window resets) or *unknown* (never
    answered yet, or its window has just reset): then one send at a time, so the answer can
    report the new budget before a burst could run into 429s."""

    def __init__(self) -> None:
        self._budgets: dict[str, _Budget] = {}
        self._unmetered: set[str] = set()
        self._metered: set[str] = set()  # reported a budget once: stays paced

    def update(self, channel: str, remaining: int, reset_after: float, now: datetime) -> None:
        self._unmetered.discard(channel)
        self._metered.add(channel)
        self._budgets[channel] = _Budget(
            max(0, remaining), now + timedelta(seconds=max(0.0, reset_after))
        )

    def unmetered(self, channel: str) -> None:
        """A successful answer without rate-limit headers: this channel reports no budget."""
        if channel not in self._metered:
            self._unmetered.add(channel)

    def allowance(self, channel: str, now: datetime, inflight: int = 0) -> int | None:
        """How many more sends may start now (None: no limit but the channel's concurrency)."""
        if channel in self._unmetered:
            return None
        budget = self._budgets.get(channel)
        if budget is None or now >= budget.reset_at:
            self._budgets.pop(channel, None)
            return max(0, 1 - inflight)  # unknown: one at a time until a budget is reported
        return max(0, budget.remaining - RESERVE - inflight)

    def resume_at(self, channel: str) -> datetime | None:
        """When a spent channel may send again."""
        budget = self._budgets.get(channel)
        return budget.reset_at if budget is not None else None
