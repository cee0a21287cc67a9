"""What is known about every channel's health now, and what that allows.

The board is passive: the monitor (``failover.health.monitor``) writes states and keeps the
machines on it; the dispatcher posts send outcomes to it; routing, the scheduler and the
status ask it. Send gating (cool-down, half-open trial, probation) is decided here, from the
machines, so nothing else reaches into a machine's counters.
"""

from __future__ import annotations

import asyncio

from channels.base import PermanentError, RateLimitedError, TransientError
from failover.clock import Clock
from failover.health.machine import HealthMachine, Observation
from failover.model import ChannelState, Forced, Health, Unusable, UnusableKind
from failover.runtime import RuntimeGetter


class HealthBoard:
    def __init__(self, clock: Clock, runtime: RuntimeGetter) -> None:
        self.clock = clock
        self.runtime = runtime
        self.states: dict[str, ChannelState] = {}  # the current state of every channel
        self.machines: dict[str, HealthMachine] = {}  # the leader's; empty on a follower
        self.observations: asyncio.Queue[tuple[str, Observation]] = asyncio.Queue()
        self.nudges: dict[str, list[asyncio.Event]] = {}  # channel -> its probe loops' wake-ups
        self.listening = False  # the monitor runs (this daemon leads): sends are heard

    def adopt(self, states: dict[str, ChannelState]) -> None:
        """Take every channel's state from the store (on leading, and on a follower's tick)."""
        self.states.clear()
        self.states.update(states)

    # -- the questions -------------------------------------------------------------------------

    def unusable(self, name: str) -> Unusable | None:
        """Why ``name`` cannot take new messages now, or None when it can."""
        live = self.runtime().channels.get(name)
        if live is None:
            return Unusable(UnusableKind.NOT_CONFIGURED, "not configured")
        if live.adapter is None:
            kind = (
                UnusableKind.DISABLED
                if not live.config.enabled
                else UnusableKind.NO_CREDENTIALS
                if live.config.missing
                else UnusableKind.BROKEN
            )
            return Unusable(kind, live.problem or "unavailable")
        state = self.states.get(name)
        if state is not None and state.effective is Health.DOWN:
            since = state.since.isoformat() if state.since else "?"
            return Unusable(UnusableKind.DOWN, f"down since {since}: {state.reason or 'forced'}")
        return None

    def may_send(self, name: str) -> Unusable | None:
        """Whether deliveries already on ``name`` may be claimed now. A down channel's wait;
        after the cool-down one at a time goes through as the half-open trial."""
        state = self.states.get(name)
        if state is None or state.effective is not Health.DOWN:
            return None
        if state.forced is Forced.DOWN:
            return Unusable(UnusableKind.FORCED_DOWN, f"forced down by {state.forced_by}")
        machine = self.machines.get(name)
        if machine is None:  # a follower: the leader decides when to try again
            return Unusable(UnusableKind.DOWN, "down")
        if not machine.cooled(self.clock.now()):
            return Unusable(
                UnusableKind.COOLING_DOWN, f"down, cooling down {machine.cooldown():g}s"
            )
        return None

    def claimable(self, name: str) -> bool:
        return self.may_send(name) is None

    def concurrency(self, name: str) -> int:
        """How many sends may run at once on ``name``: one while it is on trial."""
        machine = self.machines.get(name)
        state = self.states.get(name)
        if (
            machine is not None
            and state is not None
            and state.forced is Forced.AUTO
            and (machine.on_probation or machine.health is Health.DOWN)
        ):
            return 1  # half-open or on probation: one trial send at a time
        ch = self.runtime().config.channels.get(name)
        return ch.concurrency if ch else 1

    # -- the signals ---------------------------------------------------------------------------

    def record_send(self, channel: str, ok: bool, error: BaseException | None) -> None:
        """Dispatcher listener: a real send's outcome is the strongest health signal."""
        if not self.listening:
            return  # a follower: the leader's machines decide
        if ok:
            self.observations.put_nowait((channel, Observation(True, "send")))
            return
        if isinstance(error, RateLimitedError):
            return  # "not now" from a healthy platform
        if isinstance(error, PermanentError):
            if error.credentials:
                obs = Observation(False, "send", error.reason, fatal=True)
                self.observations.put_nowait((channel, obs))
            return  # content refused: says nothing about the platform's health
        detail = error.reason if isinstance(error, TransientError) else type(error).__name__
        self.observations.put_nowait((channel, Observation(False, "send", detail)))
        self.recheck(channel)  # a failed post: check the platform now, not at the next interval

    def recheck(self, channel: str) -> None:
        """Run ``channel``'s probes now (a send failed, or hangs longer than a probe may)."""
        if not self.listening:
            return
        for nudge in self.nudges.get(channel, []):
            nudge.set()
