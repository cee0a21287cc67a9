"""Uptime bars: per UTC day the worst status and the share of the known time the component
was up; days without data are never counted as up."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from failover.statuspage.uptime import DOWN, SEVERITY, Change, uptime_bars

DAY0 = datetime(2026, 11, 1, tzinfo=UTC)


def at(day: int, hour: float = 0) -> datetime:
    return DAY0 + timedelta(days=day, hours=hour)


def test_a_six_hour_major_outage_costs_a_quarter_of_that_day() -> None:
    changes = [Change("operational", at(-100)), Change("major_outage", at(5, 6)),
               Change("operational", at(5, 12))]  # fmt: skip
    result = uptime_bars(changes, at(10), days=12)
    by_day = {b.day: b for b in result.bars}
    outage = by_day[at(5).date()]
    assert outage.worst == "major_outage" and outage.uptime == 75.0
    assert outage.down_seconds == 6 * 3600
    assert by_day[at(4).date()].worst == "operational" and by_day[at(4).date()].uptime == 100.0
    assert len(result.bars) == 12 and result.bars[-1].day == at(10).date()
    # 12 days known (the last one only up to `end`, i.e. zero seconds of day 10)
    known = 11 * 86400
    assert result.percent == round(100 * (known - 6 * 3600) / known, 2)


def test_days_before_the_first_status_have_no_data_and_are_not_counted() -> None:
    result = uptime_bars([Change("operational", at(8, 12))], at(9, 12), days=5)
    assert [b.worst for b in result.bars] == [None, None, None, "operational", "operational"]
    assert [b.uptime for b in result.bars][:3] == [None, None, None]
    assert result.percent == 100.0


def test_no_history_means_no_claim() -> None:
    result = uptime_bars([], at(3), days=3)
    assert all(b.worst is None for b in result.bars) and result.percent is None


def test_degraded_and_maintenance_count_as_up_but_show_as_the_worst_status() -> None:
    changes = [Change("operational", at(0)), Change("degraded_performance", at(1, 1)),
               Change("under_maintenance", at(1, 2)), Change("partial_outage", at(1, 3)),
               Change("operational", at(1, 9))]  # fmt: skip
    day = uptime_bars(changes, at(2), days=3).bars[1]  # day 1
    assert day.worst == "partial_outage"
    assert day.uptime == 75.0  # six hours of partial outage; the rest is up


def test_today_counts_only_up_to_the_end_and_changes_arrive_unsorted() -> None:
    changes = [Change("operational", at(2, 6)), Change("major_outage", at(2, 3)),
               Change("operational", at(0))]  # fmt: skip
    today = uptime_bars(changes, at(2, 12), days=1).bars[0]
    assert today.known_seconds == 12 * 3600 and today.down_seconds == 3 * 3600
    assert today.uptime == 75.0 and today.worst == "major_outage"


def test_a_change_after_the_end_still_shows_today() -> None:
    """The bars end at a rounded clock; an outage that began after it is not hidden."""
    changes = [
        Change("operational", at(0)),
        Change(
            "partial_outage",
            at(
                3,
                10,
            ),
        ),
    ]
    today = uptime_bars(changes, at(3, 9.9), days=2).bars[-1]
    assert today.worst == "partial_outage"
    assert today.uptime == 100.0  # up to the outage's start it was up


def test_a_change_exactly_at_the_end_sets_todays_worst() -> None:
    changes = [Change("operational", at(0)), Change("major_outage", at(3, 10))]
    today = uptime_bars(changes, at(3, 10), days=1).bars[-1]
    assert today.worst == "major_outage"


def naive_day(
    changes: list[Change], start: datetime, stop: datetime
) -> tuple[float, float, set[str]]:
    """Known and down seconds of one day, and the statuses seen, the slow obvious way."""
    ordered = sorted(changes, key=lambda c: c.at)
    known = down = 0.0
    seen = set()
    for n, c in enumerate(ordered):
        until = ordered[n + 1].at if n + 1 < len(ordered) else stop
        lo, hi = max(c.at, start), min(until, stop)
        if lo < hi:
            known += (hi - lo).total_seconds()
            down += (hi - lo).total_seconds() if c.status in DOWN else 0
            seen.add(c.status)
    return known, down, seen


def test_the_one_pass_bars_match_the_obvious_computation() -> None:
    rng = random.Random(16)
    statuses = list(SEVERITY)
    for _ in range(40):
        changes = [
            Change(rng.choice(statuses), at(rng.uniform(-20, 30)))
            for _ in range(rng.randint(1, 60))
        ]
        end = at(30, rng.uniform(0, 24))
        bars = uptime_bars(changes, end, days=30).bars
        for bar in bars:
            start = datetime.combine(bar.day, datetime.min.time(), UTC)
            known, down, seen = naive_day(changes, start, min(start + timedelta(days=1), end))
            assert abs(bar.known_seconds - known) < 1e-6 and abs(bar.down_seconds - down) < 1e-6
            if bar is not bars[-1]:
                assert bar.worst == (max(seen, key=SEVERITY.index) if seen else None)
