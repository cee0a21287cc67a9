"""The one retry policy: an adapter's error becomes a decision (retry at T, or give up).

Backoff is tenacity's exponential-with-jitter wait, computed here rather than run in a
tenacity loop, because a retry that waits minutes must be persisted (``next_attempt_at``)
and survive a restart instead of sleeping in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tenacity import RetryCallState, wait_exponential_jitter

from channels.base import ChannelError, PermanentError, RateLimitedError, TransientError
from failover.config import RetryConfig


@dataclass(frozen=True)
class Decision:
    retry_at: datetime | None  # None: give up
    reason: str  # why, for the delivery's record

    @property
    def give_up(self) -> bool:
        return self.retry_at is None


def decide(
    error: BaseException,
    *,
    attempts: int,
    first_attempt_at: datetime,
    now: datetime,
    policy: RetryConfig,
) -> Decision:
    """Decide after the ``attempts``-th failed attempt (counting this one)."""
    if isinstance(error, PermanentError):
        return Decision(None, "permanent error: not retried")
    if isinstance(error, RateLimitedError):
        delay = max(error.retry_after, backoff(attempts, policy))
    elif isinstance(error, TransientError | ChannelError):
        delay = backoff(attempts, policy)
    else:  # an adapter bug: treat as transient, the budget bounds it
        delay = backoff(attempts, policy)
    if attempts >= policy.max_attempts:
        return Decision(None, f"retry budget spent: {attempts} attempts")
    retry_at = now + timedelta(seconds=delay)
    if (retry_at - first_attempt_at).total_seconds() > policy.max_elapsed:
        return Decision(
            None, f"retry budget spent: next attempt would be past {policy.max_elapsed:g}s"
        )
    return Decision(retry_at, f"retry in {delay:.1f}s")


def backoff(attempts: int, policy: RetryConfig) -> float:
    """Seconds before retry number ``attempts`` (1 = after the first failure)."""
    wait = wait_exponential_jitter(
        multiplier=policy.initial, max=policy.max_backoff, exp_base=2, jitter=policy.jitter
    )
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = max(1, attempts)
    return float(wait(state))


# --- one inbox of the daemon's own fediverse actor -----------------------------------------

INBOX_RETRIES = 16  # Mastodon's DeliveryWorker: 16 retries, (count^4 + 15 + jitter) s apart


def inbox_decision(
    error: BaseException, *, attempts: int, now: datetime, spacing: float, jitter: float
) -> Decision:
    """Decide after the ``attempts``-th failed POST to one inbox, on Mastodon's schedule:
    about two days in all; 4xx other than 401/408/429 are not retried (PermanentError).
    ``jitter`` in [0, 1) draws Mastodon's ``rand(10) * (count + 1)``; ``spacing`` scales
    the whole schedule (1 in production)."""
    if isinstance(error, PermanentError):
        return Decision(None, "permanent error: not retried")
    if attempts > INBOX_RETRIES:
        return Decision(None, f"retry budget spent: {attempts} attempts")
    count = attempts - 1
    delay = (count**4 + 15 + int(jitter * 10) * (count + 1)) * spacing
    if isinstance(error, RateLimitedError):
        delay = max(delay, error.retry_after)
    return Decision(now + timedelta(seconds=delay), f"retry in {delay:.1f}s")
