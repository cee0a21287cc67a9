"""90-day uptime bars from a component's status history (pure: no store, no clock).

Per UTC day: the worst status the component had and its uptime, the share of the day's
*known* time it was not in ``partial_outage`` or ``major_outage``. Time before the first
recorded status is unknown and counts neither way: a bar never vouches for a day it has no
data for (its ``worst`` is then None, shown as "No data").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

# Least to most severe; "worst" is the highest of these seen during the day.
SEVERITY = ("operational", "under_maintenance", "degraded_performance", "partial_outage",
            "major_outage")  # fmt: skip
DOWN = frozenset({"partial_outage", "major_outage"})


@dataclass(frozen=True)
class Change:
    """A component took ``status`` at ``at`` (UTC)."""

    status: str
    at: datetime


@dataclass(frozen=True)
class DayBar:
    day: date
    worst: str | None  # None: nothing known about that day
    uptime: float | None  # percent of the known time, None when nothing is known
    known_seconds: float
    down_seconds: float


@dataclass(frozen=True)
class Uptime:
    bars: tuple[DayBar, ...]  # oldest first
    percent: float | None  # over the whole window's known time


def uptime_bars(changes: Sequence[Change], end: datetime, days: int = 90) -> Uptime:
    """Bars for the ``days`` UTC days ending with ``end``'s day, up to ``end``.

    ``changes`` is the component's history, including its last change before the window (so
    the first day knows the status it started with). One pass over the changes, cut at day
    boundaries: the cost grows with the history plus the days, never their product.
    """
    ordered = sorted(changes, key=lambda c: c.at)
    # A change newer than ``end`` still counts: the bars never lag behind the data.
    end = max([end.astimezone(UTC), *(c.at for c in ordered[-1:])])
    first_day = end.date() - timedelta(days=days - 1)
    window = datetime.combine(first_day, time(), UTC)
    days_ = [_Day() for _ in range(days)]
    for s_from, s_to, status in _spans(ordered, end):
        lo = max(s_from, window)
        while lo < s_to:
            index = (lo.date() - first_day).days
            hi = min(s_to, datetime.combine(lo.date() + timedelta(days=1), time(), UTC))
            days_[index].add(status, (hi - lo).total_seconds())
            lo = hi
    bars = [d.bar(first_day + timedelta(days=i)) for i, d in enumerate(days_)]
    if ordered:  # today shows at least the status the component has now
        bars[-1] = _with_current(bars[-1], ordered[-1].status)
    known = sum(b.known_seconds for b in bars)
    down = sum(b.down_seconds for b in bars)
    percent = None if known == 0 else round(100 * (known - down) / known, 2)
    return Uptime(tuple(bars), percent)


class _Day:
    """What one day has seen so far."""

    def __init__(self) -> None:
        self.worst: str | None = None
        self.known = self.down = 0.0

    def add(self, status: str, seconds: float) -> None:
        self.known += seconds
        if status in DOWN:
            self.down += seconds
        if self.worst is None or _severity(status) > _severity(self.worst):
            self.worst = status

    def bar(self, day: date) -> DayBar:
        if self.worst is None:
            return DayBar(day, None, None, 0.0, 0.0)
        uptime = round(100 * (self.known - self.down) / self.known, 2)
        return DayBar(day, self.worst, uptime, self.known, self.down)


def _spans(ordered: Sequence[Change], end: datetime) -> Iterable[tuple[datetime, datetime, str]]:
    """(from, to, status) for every stretch of known status, ending at ``end``."""
    for n, this in enumerate(ordered):
        stop = min(ordered[n + 1].at if n + 1 < len(ordered) else end, end)
        if this.at < stop:
            yield this.at, stop, this.status


def _with_current(bar: DayBar, status: str) -> DayBar:
    worst = status if bar.worst is None or _severity(status) > _severity(bar.worst) else bar.worst
    return DayBar(bar.day, worst, bar.uptime, bar.known_seconds, bar.down_seconds)


def _severity(status: str) -> int:
    return SEVERITY.index(status) if status in SEVERITY else len(SEVERITY)
