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

    ``changes`` is the component's history in time order, including its last change before
    the window (so the first day knows the status it started with).
    """
    ordered = sorted(changes, key=lambda c: c.at)
    # A change newer than ``end`` still counts: the bars never lag behind the data.
    end = max([end.astimezone(UTC), *(c.at for c in ordered[-1:])])
    first_day = end.date() - timedelta(days=days - 1)
    spans = list(_spans(ordered, end))
    bars = []
    for i in range(days):
        day = first_day + timedelta(days=i)
        start = datetime.combine(day, time(), UTC)
        bars.append(_bar(day, spans, start, min(start + timedelta(days=1), end)))
    if ordered:  # today shows at least the status the component has now
        bars[-1] = _with_current(bars[-1], ordered[-1].status)
    known = sum(b.known_seconds for b in bars)
    down = sum(b.down_seconds for b in bars)
    percent = None if known == 0 else round(100 * (known - down) / known, 2)
    return Uptime(tuple(bars), percent)


def _spans(ordered: Sequence[Change], end: datetime) -> Iterable[tuple[datetime, datetime, str]]:
    """(from, to, status) for every stretch of known status, ending at ``end``."""
    for n, this in enumerate(ordered):
        stop = min(ordered[n + 1].at if n + 1 < len(ordered) else end, end)
        if this.at < stop:
            yield this.at, stop, this.status


def _bar(
    day: date, spans: Sequence[tuple[datetime, datetime, str]], start: datetime, stop: datetime
) -> DayBar:
    worst: str | None = None
    known = down = 0.0
    for s_from, s_to, status in spans:
        lo, hi = max(s_from, start), min(s_to, stop)
        if lo >= hi:
            continue
        seconds = (hi - lo).total_seconds()
        known += seconds
        if status in DOWN:
            down += seconds
        worst = status if worst is None else max(worst, status, key=_severity)
    if worst is None:
        return DayBar(day, None, None, 0.0, 0.0)
    return DayBar(day, worst, round(100 * (known - down) / known, 2), known, down)


def _with_current(bar: DayBar, status: str) -> DayBar:
    worst = status if bar.worst is None else max(bar.worst, status, key=_severity)
    return DayBar(bar.day, worst, bar.uptime, bar.known_seconds, bar.down_seconds)


def _severity(status: str) -> int:
    return SEVERITY.index(status) if status in SEVERITY else len(SEVERITY)
