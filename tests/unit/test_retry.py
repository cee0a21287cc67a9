"""The one retry policy: permanent stops, transient backs off, rate limits are honoured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from channels.base import PermanentError, RateLimitedError, TransientError
from failover.config import RetryConfig
from failover.retry import backoff, decide

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = RetryConfig(max_attempts=5, max_elapsed=600, initial=2, max_backoff=60, jitter=1)


def test_permanent_is_not_retried() -> None:
    d = decide(
        PermanentError("401", status=401), attempts=1, first_attempt_at=T0, now=T0, policy=POLICY
    )
    assert d.give_up and "permanent" in d.reason


def test_transient_backs_off_exponentially_with_jitter_and_a_cap() -> None:
    waits = [backoff(n, POLICY) for n in range(1, 8)]
    for n, w in enumerate(waits, 1):
        base = min(2 * 2 ** (n - 1), 60)
        assert base <= w <= min(base + 1, 60) + 1e-9
    assert waits[-1] == 60


def test_rate_limit_waits_at_least_retry_after() -> None:
    err = RateLimitedError("429", retry_after=120)
    d = decide(err, attempts=1, first_attempt_at=T0, now=T0, policy=POLICY)
    assert d.retry_at is not None and d.retry_at >= T0 + timedelta(seconds=120)


def test_budget_by_attempts_and_by_time() -> None:
    err = TransientError("503")
    assert decide(err, attempts=5, first_attempt_at=T0, now=T0, policy=POLICY).give_up
    assert not decide(err, attempts=4, first_attempt_at=T0, now=T0, policy=POLICY).give_up
    late = T0 + timedelta(seconds=599)
    d = decide(err, attempts=2, first_attempt_at=T0, now=late, policy=POLICY)
    assert d.give_up and "past 600s" in d.reason
    big = RateLimitedError("429", retry_after=3600)
    assert decide(big, attempts=1, first_attempt_at=T0, now=T0, policy=POLICY).give_up
