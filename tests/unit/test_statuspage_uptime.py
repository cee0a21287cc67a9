"""Uptime bars: per UTC day the worst status and the share of the known time the component
was up; days without data are never counted as up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from failover.statuspage.uptime import Change, uptime_bars

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
