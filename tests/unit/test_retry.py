"""The one retry policy: permanent stops, transient backs off, rate limits are honoured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from channels.base import PermanentError, RateLimitedError, TransientError
from failover.config import RetryConfig
from failover.model import Unusable, UnusableKind
from failover.retry import Action, Situation, StillRunning, backoff, decide

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = RetryConfig(max_attempts=5, max_elapsed=600, initial=2, max_backoff=60, jitter=1)
DOWN = Unusable(UnusableKind.DOWN, "down since 2026-01-01T00:00:00+00:00: probe failed")


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


# -- what happens next besides retrying: reroute, wait, escalate ---------------------------------

DOWN_WITH_FALLBACK = Situation(unusable=DOWN, fallback=True)


def test_a_channel_down_with_a_fallback_reroutes_instead_of_retrying() -> None:
    hung = TransientError("no answer", maybe_delivered=True)
    d = decide(hung, attempts=1, first_attempt_at=T0, now=T0, policy=POLICY,
               situation=DOWN_WITH_FALLBACK)  # fmt: skip
    assert d.action is Action.REROUTE and d.retry_at is None


def test_a_permanent_error_gives_up_even_when_the_channel_is_down() -> None:
    err = PermanentError("403", status=403)
    d = decide(err, attempts=1, first_attempt_at=T0, now=T0, policy=POLICY,
               situation=DOWN_WITH_FALLBACK)  # fmt: skip
    assert d.action is Action.GIVE_UP


def test_down_without_fallback_waits_for_the_channel_once_the_budget_is_spent() -> None:
    alone = Situation(unusable=DOWN, fallback=False)
    err = TransientError("503")
    early = decide(err, attempts=1, first_attempt_at=T0, now=T0, policy=POLICY, situation=alone)
    assert early.action is Action.RETRY
    spent = decide(err, attempts=5, first_attempt_at=T0, now=T0, policy=POLICY, situation=alone)
    assert spent.action is Action.WAIT and spent.retry_at == T0


def test_a_retry_past_the_escalation_deadline_also_hands_the_message_on() -> None:
    deadline = T0 + timedelta(seconds=20)
    s = Situation(fallback=True, escalate_at=deadline)
    soon = decide(TransientError("503"), attempts=1, first_attempt_at=T0, now=T0, policy=POLICY,
                  situation=s)  # fmt: skip
    assert soon.action is Action.RETRY and not soon.escalate
    limited = decide(RateLimitedError("429", retry_after=60), attempts=1, first_attempt_at=T0,
                     now=T0, policy=POLICY, situation=s)  # fmt: skip
    assert limited.action is Action.RETRY and limited.escalate
    last_tier = Situation(fallback=False, escalate_at=deadline)
    alone = decide(RateLimitedError("429", retry_after=60), attempts=1, first_attempt_at=T0,
                   now=T0, policy=POLICY, situation=last_tier)  # fmt: skip
    assert not alone.escalate


def test_an_attempt_still_running_at_the_deadline_escalates_but_goes_on() -> None:
    deadline = T0 + timedelta(seconds=20)
    s = Situation(fallback=True, escalate_at=deadline)
    before = decide(StillRunning(19), attempts=1, first_attempt_at=T0,
                    now=deadline - timedelta(seconds=1), policy=POLICY, situation=s)  # fmt: skip
    assert before.action is Action.CONTINUE and not before.escalate
    at = decide(StillRunning(20), attempts=1, first_attempt_at=T0, now=deadline, policy=POLICY,
                situation=s)  # fmt: skip
    assert at.action is Action.CONTINUE and at.escalate and "escalation" in at.reason
    off = decide(StillRunning(20), attempts=1, first_attempt_at=T0, now=deadline, policy=POLICY,
                 situation=Situation(fallback=True))  # fmt: skip
    assert not off.escalate


def test_an_attempt_still_running_when_its_channel_goes_down_escalates_if_it_can() -> None:
    down = decide(StillRunning(5), attempts=1, first_attempt_at=T0, now=T0, policy=POLICY,
                  situation=DOWN_WITH_FALLBACK)  # fmt: skip
    assert down.action is Action.CONTINUE and down.escalate and "went down" in down.reason
    alone = decide(StillRunning(5), attempts=1, first_attempt_at=T0, now=T0, policy=POLICY,
                   situation=Situation(unusable=DOWN))  # fmt: skip
    assert not alone.escalate


# -- every combination: error x channel usability x fallback x budget ----------------------------

ERRORS: list[Exception] = [
    TransientError("503"),
    TransientError("no answer", maybe_delivered=True),
    RateLimitedError("429", retry_after=30),
    PermanentError("403", status=403),
    RuntimeError("an adapter bug"),
]
UNUSABLE = [None, *(Unusable(kind, f"{kind.value}: why") for kind in UnusableKind)]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("unusable", UNUSABLE, ids=lambda u: u.kind.value if u else "usable")
@pytest.mark.parametrize("fallback", [False, True], ids=["last-tier", "fallback"])
@pytest.mark.parametrize("spent", [False, True], ids=["budget-left", "budget-spent"])
def test_what_happens_next_in_every_situation(
    error: Exception, unusable: Unusable | None, fallback: bool, spent: bool
) -> None:
    attempts = POLICY.max_attempts if spent else 1
    situation = Situation(unusable=unusable, fallback=fallback)
    d = decide(error, attempts=attempts, first_attempt_at=T0, now=T0, policy=POLICY,
               situation=situation)  # fmt: skip
    if unusable is not None and unusable.kind is not UnusableKind.DOWN:
        # Disabled, no credentials, broken, removed: nothing here can succeed until an
        # operator acts; the next tier takes it (FAILED, not DEAD).
        assert (d.action, d.permanent) == (Action.GIVE_UP, True)
        assert unusable.kind.value in d.reason and unusable.reason in d.reason
    elif isinstance(error, PermanentError):
        assert (d.action, d.permanent) == (Action.GIVE_UP, True)
    elif unusable is not None and fallback:
        assert d.action is Action.REROUTE and d.reason == unusable.reason  # starts with "down"
    elif spent and unusable is not None:
        assert d.action is Action.WAIT and d.retry_at == T0
    elif spent:
        assert (d.action, d.permanent) == (Action.GIVE_UP, False)
        assert "retry budget spent" in d.reason
    else:
        assert d.action is Action.RETRY and d.retry_at is not None and d.retry_at > T0
        if isinstance(error, RateLimitedError):
            assert d.retry_at >= T0 + timedelta(seconds=error.retry_after)
    assert d.give_up == (d.action in (Action.GIVE_UP, Action.REROUTE))
    assert not d.escalate  # no escalation deadline in these situations


# --- a webhook subscriber's missed copy ------------------------------------------------------


def test_a_hook_copy_is_retried_on_the_schedule_then_given_up() -> None:
    from failover.config import SubscribersConfig
    from failover.retry import HOOK_RETRIES, hook_decision

    assert tuple(SubscribersConfig().hook_retries) == HOOK_RETRIES  # the config's default
    error = TransientError("HTTP 503", status=503)
    waits = []
    attempts = 1
    while (d := hook_decision(error, attempts=attempts, now=T0)).retry_at is not None:
        assert d.action is Action.RETRY
        waits.append((d.retry_at - T0).total_seconds())
        attempts += 1
    assert waits == [30, 120, 600, 1800] and attempts == 5  # the first POST and 4 retries
    assert d.give_up and not d.permanent and "5 attempts" in d.reason
    stretched = hook_decision(error, attempts=1, now=T0, jitter=0.999).retry_at
    assert stretched is not None and 32.9 < (stretched - T0).total_seconds() < 33  # +10% at most
    assert hook_decision(error, attempts=2, now=T0, schedule=()).give_up  # retries turned off


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_a_hook_that_answers_a_4xx_is_not_retried(status: int) -> None:
    from failover.retry import hook_decision

    d = hook_decision(PermanentError(f"HTTP {status}", status=status), attempts=1, now=T0)
    assert d.give_up and d.permanent and d.retry_at is None


def test_a_hooks_retry_after_lengthens_the_wait_up_to_a_cap() -> None:
    from failover.retry import HOOK_RETRY_AFTER_CAP, hook_decision

    def wait(retry_after: float, attempts: int = 1) -> float:
        error = RateLimitedError("HTTP 429", retry_after=retry_after)
        at = hook_decision(error, attempts=attempts, now=T0).retry_at
        assert at is not None
        return (at - T0).total_seconds()

    assert wait(5) == 30  # shorter than the schedule: the schedule
    assert wait(300) == 300
    assert wait(86400) == HOOK_RETRY_AFTER_CAP == 1800  # a day: the cap, not a day
    assert wait(300, attempts=3) == 600
    busy = RateLimitedError("HTTP 503", retry_after=90, status=503)
    at = hook_decision(busy, attempts=1, now=T0).retry_at
    assert at == T0 + timedelta(seconds=90)
