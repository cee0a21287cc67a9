"""Per-host bookkeeping of inbox deliveries: a circuit breaker and "unavailable" marking.

Like Mastodon: after ``BREAKER_FAILURES`` failures in a row a host gets no attempt for
``BREAKER_COOL_OFF`` seconds (then one trial); a host that failed on ``UNAVAILABLE_DAYS``
distinct days is marked unavailable and skipped until it next reaches us or answers.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from failover.store.fediverse import HostRecord

BREAKER_FAILURES = 10
BREAKER_COOL_OFF = 300.0
UNAVAILABLE_DAYS = 7


def after_failure(
    record: HostRecord | None, host: str, now: datetime, spacing: float = 1.0
) -> HostRecord:
    """The host's record after one more failed attempt."""
    rec = record or HostRecord(host, 0, (), None, False)
    day = now.date().isoformat()
    days = rec.failure_days if day in rec.failure_days else (*rec.failure_days, day)
    failures = rec.failures + 1
    open_until = rec.open_until
    if failures >= BREAKER_FAILURES:
        open_until = now + timedelta(seconds=BREAKER_COOL_OFF * spacing)
    return replace(
        rec,
        failures=failures,
        failure_days=days[-UNAVAILABLE_DAYS:],
        open_until=open_until,
        unavailable=rec.unavailable or len(days) >= UNAVAILABLE_DAYS,
    )
