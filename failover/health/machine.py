"""The per-channel health state machine: up, degraded, down, with thresholds and hysteresis.

Signals come from probes (HTTP, Statuspage, the adapter's own check) and from real sends.
The write path decides:

- Every signal source (each kind of probe, and real sends) keeps its own count of consecutive
  failures, cleared only by that source's next success. The channel goes down when the counts
  add up to ``down_after`` (say 3: three failed credential checks in a row, or one failed post
  and two failed checks), or when sends fail at a rate above ``error_rate`` over ``window``
  (with at least ``min_samples`` sends). A single blip, or one source flapping below the
  threshold, changes nothing.
- So a green status page never clears the failures of the API checks or of the posts: it does
  not make a channel healthy while its posts fail (a partial outage looks exactly like that).
- While down, nothing counts for ``cooldown``. After it the channel is *half-open*: ``up_after`` consecutive
  successes (or one successful trial send) bring it back up *on probation*: the first send
  that fails during probation takes it straight back down, with a doubled cool-down;
  ``up_after`` successful sends end the probation.
- A Statuspage ``minor``/``degraded_performance`` answer makes an up channel ``degraded``
  (still used); ``major``/``critical``/``major_outage`` count as failures.

The machine is pure: it is fed observations with their time and returns transitions; the
monitor (``failover.health.monitor``) persists them and hands them to the reactions.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from failover.config import HealthConfig
from failover.model import Health


@dataclass(frozen=True)
class Observation:
    ok: bool
    source: str  # "send", "probe:http", "probe:statuspage", "probe:adapter"
    detail: str = ""
    degraded: bool = False  # ok, but the platform says it is degraded
    fatal: bool = False  # needs an operator (revoked credentials): down at once

    @property
    def is_send(self) -> bool:
        return self.source == "send"


@dataclass(frozen=True)
class Transition:
    """A change of health; ``before == after`` marks the end of a probation ("stable")."""

    before: Health
    after: Health
    reason: str
    at: datetime

    @property
    def stable(self) -> bool:
        return self.before is self.after


class HealthMachine:
    def __init__(
        self, config: HealthConfig, health: Health = Health.UNKNOWN, since: datetime | None = None
    ) -> None:
        self.config = config
        self.health = health
        self.since = since
        self.failing: dict[str, int] = {}  # source -> its consecutive failures
        self.successes = 0  # consecutive, counted towards recovery
        self.probation = 0  # successful sends still needed to end probation (0: none)
        self.relapses = 0  # failed probations in a row: each doubles the cool-down
        self.last_send_failed = False
        self.sends: deque[tuple[datetime, bool]] = deque()
        # Sources (e.g. the status page probe) currently reporting "degraded": only the same
        # source saying "fine" again clears its notice, not another probe's success.
        self.degraded_by: set[str] = set()

    @property
    def failures(self) -> int:
        """Consecutive failures, summed over the signal sources that are failing now."""
        return sum(self.failing.values())

    @property
    def suspect(self) -> bool:
        """Failures are counted but the channel is not down yet: worth checking again soon."""
        return self.failures > 0 and self.health is not Health.DOWN

    @property
    def on_probation(self) -> bool:
        return self.probation > 0

    def observe(self, obs: Observation, now: datetime) -> Transition | None:
        if obs.is_send:
            self._window(now, obs.ok)
            self.last_send_failed = not obs.ok
        if obs.ok:
            return self._success(obs, now)
        return self._failure(obs, now)

    def cooldown(self) -> float:
        """Seconds before a down channel may be tried again; doubles on each failed probation."""
        return float(min(self.config.cooldown * 2**self.relapses, self.config.cooldown * 16))

    # -- internals -----------------------------------------------------------------------------

    def _success(self, obs: Observation, now: datetime) -> Transition | None:
        if obs.degraded:
            self.degraded_by.add(obs.source)
        else:
            self.degraded_by.discard(obs.source)
        target = Health.DEGRADED if self.degraded_by else Health.UP
        if self.health is Health.DOWN:
            if not self.cooled(now):
                return None  # no trial before the cool-down is over
            self.successes += 1
            if obs.is_send or self.successes >= self.config.up_after:
                self.probation = self.config.up_after
                how = "a send succeeded" if obs.is_send else f"{self.successes} successful probes"
                return self._move(target, f"recovered ({how}); on probation", now)
            return None
        self.failing.pop(obs.source, None)
        if obs.is_send and self.probation:
            self.probation -= 1
            if not self.probation:
                self.relapses = 0
                return Transition(self.health, self.health, "stable: probation passed", now)
        if self.health is target or (obs.is_send and self.health is Health.DEGRADED):
            return None  # a good send does not clear a degraded notice from the status page
        if self.health is Health.UNKNOWN or not self.last_send_failed:
            return self._move(target, obs.detail or f"{obs.source} ok", now)
        return None

    def _failure(self, obs: Observation, now: datetime) -> Transition | None:
        self.successes = 0
        self.degraded_by.discard(obs.source)
        if self.health is Health.DOWN:
            return None
        self.failing[obs.source] = self.failing.get(obs.source, 0) + 1
        reason = f"{obs.source}: {obs.detail}" if obs.detail else obs.source
        if obs.fatal:
            return self._move(Health.DOWN, reason, now)
        if self.probation and obs.is_send:
            self.relapses += 1
            return self._move(Health.DOWN, f"failed again on probation — {reason}", now)
        if self.failures >= self.config.down_after:
            return self._move(Health.DOWN, f"{self.failures} failures in a row — {reason}", now)
        rate = self._error_rate()
        if rate is not None and rate > self.config.error_rate:
            return self._move(
                Health.DOWN,
                f"send error rate {rate:.0%} over {self.config.window:g}s — {reason}",
                now,
            )
        return None

    def _window(self, now: datetime, ok: bool) -> None:
        self.sends.append((now, ok))
        horizon = now - timedelta(seconds=self.config.window)
        while self.sends and self.sends[0][0] < horizon:
            self.sends.popleft()

    def _error_rate(self) -> float | None:
        if len(self.sends) < self.config.min_samples:
            return None
        return sum(not ok for _, ok in self.sends) / len(self.sends)

    def cooled(self, now: datetime) -> bool:
        """Whether a down channel's cool-down is over: a trial may go through."""
        return self.since is None or (now - self.since).total_seconds() >= self.cooldown()

    def _move(self, after: Health, reason: str, now: datetime) -> Transition:
        t = Transition(self.health, after, reason, now)
        self.health = after
        self.since = now
        self.failing.clear()
        self.successes = 0
        if after is Health.DOWN:
            self.probation = 0
            self.sends.clear()
            self.last_send_failed = False
        return t
