"""The one retry policy: what happens next to a delivery whose attempt did not succeed.

``decide`` is the only place that chooses between retrying on the same channel, moving the
message to the route's next tier, waiting for a down channel, and giving up; and whether the
next tier should get the message *too* because the escalation deadline has passed.

Backoff is tenacity's exponential-with-jitter wait, computed here rather than run in a
tenacity loop, because a retry that waits minutes must be persisted (``next_attempt_at``)
and survive a restart instead of sleeping in memory.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from tenacity import RetryCallState, wait_exponential_jitter

from channels.base import PermanentError, RateLimitedError
from failover.config import RetryConfig
from failover.model import Unusable


class Action(enum.StrEnum):
    RETRY = "retry"  # try the same channel again at ``retry_at``
    REROUTE = "reroute"  # leave this channel (it is down): the next tier takes the message
    WAIT = "wait"  # the channel is down and no tier is left: wait for it (``retry_at``)
    GIVE_UP = "give_up"  # failed for good on this channel (the next tier takes over)
    CONTINUE = "continue"  # the attempt is still running: let it


class StillRunning(Exception):
    """Not an error: the attempt has been running ``seconds`` and has not ended yet."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer yet after {seconds:.0f}s")
        self.seconds = seconds


@dataclass(frozen=True)
class Situation:
    """What the dispatcher knows besides the error: the channel's health and the route's."""

    unusable: Unusable | None = None  # why the channel cannot take messages now, if it cannot
    fallback: bool = False  # a later tier of a failover route could take the message now
    escalate_at: datetime | None = None  # the tier's escalation deadline (None: never)

    @property
    def channel_down(self) -> bool:
        """Down by health or an operator's force: it may come back by itself."""
        return self.unusable is not None and self.unusable.down

    @property
    def channel_gone(self) -> bool:
        """Unusable until an operator acts (disabled, no credentials, broken, removed)."""
        return self.unusable is not None and not self.unusable.down


@dataclass(frozen=True)
class Decision:
    action: Action
    retry_at: datetime | None  # RETRY / WAIT: when the delivery is due again
    reason: str  # why, for the delivery's record (REROUTE: why the channel is unusable)
    escalate: bool = False  # the next tier gets the message too (this delivery goes on)
    permanent: bool = False  # GIVE_UP because it can never succeed here (not a spent budget)

    @property
    def give_up(self) -> bool:
        return self.action in (Action.GIVE_UP, Action.REROUTE)


def decide(
    error: BaseException,
    *,
    attempts: int,
    first_attempt_at: datetime,
    now: datetime,
    policy: RetryConfig,
    situation: Situation = Situation(),
) -> Decision:
    """Decide after the ``attempts``-th attempt (counting this one) ended in ``error``, or
    while it still runs (``StillRunning``)."""
    s = situation
    if isinstance(error, StillRunning):
        return _while_running(error, now, s)
    if s.channel_gone and s.unusable is not None:
        why = f"channel unavailable ({s.unusable.kind.value}): {s.unusable.reason}"
        return Decision(Action.GIVE_UP, None, why, permanent=True)
    if isinstance(error, PermanentError):
        return Decision(Action.GIVE_UP, None, "permanent error: not retried", permanent=True)
    if s.channel_down and s.fallback and s.unusable is not None:
        # Its channel went down while it was in flight: the next tier now, no retry here. An
        # uncertain attempt stays recorded as such, and failback reconciles it first.
        return Decision(Action.REROUTE, None, s.unusable.reason)
    delay = backoff(attempts, policy)  # an adapter bug counts as transient: the budget bounds it
    if isinstance(error, RateLimitedError):
        delay = max(error.retry_after, delay)
    retry_at = now + timedelta(seconds=delay)
    spent = None
    if attempts >= policy.max_attempts:
        spent = f"retry budget spent: {attempts} attempts"
    elif (retry_at - first_attempt_at).total_seconds() > policy.max_elapsed:
        spent = f"retry budget spent: next attempt would be past {policy.max_elapsed:g}s"
    if spent is not None:
        if s.channel_down and not s.fallback:
            # Every way out is closed: the message waits for its channel instead of dying
            # with it. The scheduler holds a down channel's work and lets one half-open trial
            # through after the cool-down; expiry and cancel still apply.
            return Decision(Action.WAIT, now, "channel down and no fallback left: waiting for it")
        return Decision(Action.GIVE_UP, None, spent)
    escalate = s.fallback and s.escalate_at is not None and retry_at >= s.escalate_at
    why = f"retry in {delay:.1f}s"
    if escalate:
        why += "; not confirmed within the escalation deadline: the next tier gets it too"
    return Decision(Action.RETRY, retry_at, why, escalate=escalate)


def _while_running(error: StillRunning, now: datetime, s: Situation) -> Decision:
    """An attempt that has not ended: it goes on, and the next tier may get the message too."""
    if s.fallback and s.channel_down:
        why = f"its channel went down while the attempt runs ({error})"
        return Decision(Action.CONTINUE, None, why, escalate=True)
    if s.fallback and s.escalate_at is not None and now >= s.escalate_at:
        why = f"not confirmed within the escalation deadline ({error})"
        return Decision(Action.CONTINUE, None, why, escalate=True)
    return Decision(Action.CONTINUE, None, str(error))


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
        return Decision(Action.GIVE_UP, None, "permanent error: not retried")
    if attempts > INBOX_RETRIES:
        return Decision(Action.GIVE_UP, None, f"retry budget spent: {attempts} attempts")
    count = attempts - 1
    delay = (count**4 + 15 + int(jitter * 10) * (count + 1)) * spacing
    if isinstance(error, RateLimitedError):
        delay = max(delay, error.retry_after)
    return Decision(Action.RETRY, now + timedelta(seconds=delay), f"retry in {delay:.1f}s")


# --- one webhook subscriber's copy of an update ---------------------------------------------

# After the first attempt: 30 s, 2 min, 10 min, 30 min, then give up (5 attempts, ~42 min). A
# receiver that restarts or redeploys is back within the first two; one down as long as the
# outages this daemon exists for (about half an hour) still gets the update from the last one.
# Past that the update is stale: the next one, and the status page, say more than a copy of
# this one would, so it is not chased for days as the fediverse's inboxes are.
HOOK_RETRIES = (30.0, 120.0, 600.0, 1800.0)
HOOK_RETRY_AFTER_CAP = 1800.0  # a Retry-After longer than this waits this long, no longer
HOOK_JITTER = 0.1  # each wait stretched by up to 10%: hooks that failed together spread out


def hook_decision(
    error: BaseException,
    *,
    attempts: int,
    now: datetime,
    schedule: tuple[float, ...] = HOOK_RETRIES,
    jitter: float = 0.0,
) -> Decision:
    """Decide after the ``attempts``-th failed POST (the first one included) of one update to
    one webhook subscriber. A permanent answer (4xx other than 408/425/429) is not retried;
    ``Retry-After`` (a RateLimitedError: 429, or 503 with the header) lengthens the wait, up
    to ``HOOK_RETRY_AFTER_CAP``. ``jitter`` in [0, 1) draws the stretch."""
    if isinstance(error, PermanentError):
        return Decision(Action.GIVE_UP, None, "permanent error: not retried", permanent=True)
    if attempts > len(schedule):
        return Decision(Action.GIVE_UP, None, f"retry budget spent: {attempts} attempts")
    delay = schedule[attempts - 1] * (1 + HOOK_JITTER * jitter)
    if isinstance(error, RateLimitedError):
        delay = max(delay, min(error.retry_after, HOOK_RETRY_AFTER_CAP))
    return Decision(Action.RETRY, now + timedelta(seconds=delay), f"retry in {delay:.0f}s")
