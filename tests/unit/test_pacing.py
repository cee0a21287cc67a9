"""The pacer: one send at a time until a budget is known, then the budget, then the reset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from failover.pacing import Pacer

T0 = datetime(2026, 11, 25, tzinfo=UTC)


def test_unknown_channel_sends_one_at_a_time() -> None:
    p = Pacer()
    assert p.allowance("x", T0, inflight=0) == 1
    assert p.allowance("x", T0, inflight=1) == 0


def test_channel_without_budget_headers_is_unmetered() -> None:
    p = Pacer()
    p.unmetered("hook")
    assert p.allowance("hook", T0, inflight=3) is None


def test_budget_keeps_one_in_reserve_and_counts_inflight_then_resets_to_probing() -> None:
    p = Pacer()
    p.update("x", remaining=5, reset_after=60, now=T0)
    assert p.allowance("x", T0, inflight=0) == 4
    assert p.allowance("x", T0, inflight=3) == 1
    p.update("x", remaining=1, reset_after=60, now=T0)
    assert p.allowance("x", T0) == 0 and p.resume_at("x") == T0 + timedelta(seconds=60)
    later = T0 + timedelta(seconds=61)
    assert p.allowance("x", later, inflight=0) == 1  # a new window: learn its budget first
    p.unmetered("x")  # a success without headers does not forget that x is metered...
    assert p.allowance("x", later, inflight=1) == 0  # ...while its budget is unknown
