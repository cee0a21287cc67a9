"""The probe runner: runs each channel's probes, hears every send's outcome, and turns the
state machine's transitions into stored channel states, events and the daemon's reactions.

Transitions are applied one at a time, in order, by a single worker, so a reaction (reroute,
failback, announcement) never races another for the same channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import aiohttp

from channels.base import PermanentError, RateLimitedError, TransientError
from failover.clock import Clock
from failover.config import Config, ProbeConfig
from failover.health.machine import HealthMachine, Observation, Transition
from failover.live_channels import ChannelSet
from failover.metrics import Metrics
from failover.model import ChannelState, Health
from failover.probes import run_probe
from failover.store.base import NewEvent, Store

log = logging.getLogger("failover.health.monitor")

# (channel, transition, state before, state after)
Reaction = Callable[[str, Transition, ChannelState, ChannelState], Awaitable[None]]


class HealthMonitor:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        states: dict[str, ChannelState],
        react: Reaction,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics or Metrics()
        self.store = store
        self.clock = clock
        self.states = states  # shared with the daemon: the current state of every channel
        self.react = react
        self.machines: dict[str, HealthMachine] = {}
        self._queue: asyncio.Queue[tuple[str, Observation]] = asyncio.Queue()
        self._probe_tasks: list[asyncio.Task[None]] = []
        self._worker: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._config: Config | None = None
        self._channels: ChannelSet | None = None
        self.rounds_done = asyncio.Event()  # set once every probe has run once
        self._nudges: dict[str, list[asyncio.Event]] = {}  # channel -> its probe loops' wake-ups

    async def start(self, config: Config, channels: ChannelSet) -> None:
        self._session = aiohttp.ClientSession(headers={"User-Agent": "failover-health"})
        self._worker = asyncio.create_task(self._apply_loop(), name="health-worker")
        await self.configure(config, channels)

    async def configure(self, config: Config, channels: ChannelSet) -> None:
        """(Re)start probes for the current config; machines keep their state across reloads."""
        self._config, self._channels = config, channels
        for task in self._probe_tasks:
            task.cancel()
        self._probe_tasks.clear()
        self._nudges.clear()
        first_round = []
        for name, ch in config.channels.items():
            machine = self.machines.get(name)
            state = self.states.get(name, ChannelState(name))
            if machine is None or machine.config != ch.health:
                machine = HealthMachine(ch.health, state.health, state.since)
                self.machines[name] = machine
            self.metrics.set_health(name, state.effective)
            live = channels.get(name)
            if live is None or live.adapter is None:
                # Disabled or missing secrets: a configuration problem, reported as such; not
                # an outage of the platform to probe, announce or fail over for.
                continue
            for probe in ch.health.probes:
                done, nudge = asyncio.Event(), asyncio.Event()
                first_round.append(done)
                self._nudges.setdefault(name, []).append(nudge)
                self._probe_tasks.append(
                    asyncio.create_task(
                        self._probe_loop(name, probe, done, nudge),
                        name=f"probe-{name}-{probe.kind}",
                    )
                )
        self.rounds_done.clear()
        if first_round:
            asyncio.create_task(self._all_done(first_round))  # noqa: RUF006 - short-lived
        else:
            self.rounds_done.set()

    async def _all_done(self, events: list[asyncio.Event]) -> None:
        await asyncio.gather(*(e.wait() for e in events))
        await self._queue.join()
        self.rounds_done.set()

    async def stop(self) -> None:
        for task in [*self._probe_tasks, *([self._worker] if self._worker else [])]:
            task.cancel()
        await asyncio.gather(
            *self._probe_tasks, *([self._worker] if self._worker else []), return_exceptions=True
        )
        self._probe_tasks.clear()
        if self._session is not None:
            await self._session.close()

    # -- signals -------------------------------------------------------------------------------

    def record_send(self, channel: str, ok: bool, error: BaseException | None) -> None:
        """Dispatcher listener: a real send's outcome is the strongest health signal."""
        if ok:
            self._queue.put_nowait((channel, Observation(True, "send")))
            return
        if isinstance(error, RateLimitedError):
            return  # "not now" from a healthy platform
        if isinstance(error, PermanentError):
            if error.credentials:
                self._queue.put_nowait(
                    (channel, Observation(False, "send", error.reason, fatal=True))
                )
            return  # content refused: says nothing about the platform's health
        detail = error.reason if isinstance(error, TransientError) else type(error).__name__
        self._queue.put_nowait((channel, Observation(False, "send", detail)))
        self.recheck(channel)  # a failed post: check the platform now, not at the next interval

    def recheck(self, channel: str) -> None:
        """Run ``channel``'s probes now (a send failed, or hangs longer than a probe may)."""
        for nudge in self._nudges.get(channel, []):
            nudge.set()

    async def _probe_loop(
        self, channel: str, probe: ProbeConfig, first: asyncio.Event, nudge: asyncio.Event
    ) -> None:
        assert self._session is not None
        while True:
            nudge.clear()
            started = self.clock.monotonic()
            try:
                live = self._channels.get(channel) if self._channels else None
                obs = await run_probe(probe, self._session, live.adapter if live else None)
                self.metrics.probe_duration.labels(channel, probe.kind).observe(
                    self.clock.monotonic() - started
                )
                if obs is not None and not obs.ok:
                    self.metrics.probe_failures.labels(channel, probe.kind).inc()
                if obs is not None:
                    self._queue.put_nowait((channel, obs))
                    await self._queue.join()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("probe %s of %s crashed", probe.kind, channel)
            first.set()
            machine = self.machines.get(channel)
            interval = probe.interval
            if machine is not None and machine.suspect:
                interval = min(interval, machine.config.recheck)
            elapsed = self.clock.monotonic() - started
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(nudge.wait(), max(0.0, interval - elapsed))

    # -- transitions ---------------------------------------------------------------------------

    async def _apply_loop(self) -> None:
        while True:
            channel, obs = await self._queue.get()
            try:
                machine = self.machines.get(channel)
                if machine is not None:
                    transition = machine.observe(obs, self.clock.now())
                    if transition is not None:
                        await self._apply(channel, transition)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("applying a health observation for %s failed", channel)
            finally:
                self._queue.task_done()

    async def _apply(self, channel: str, t: Transition) -> None:
        old = self.states.get(channel, ChannelState(channel))
        kind = "channel.stable" if t.stable else f"channel.{t.after.value}"
        event = NewEvent(
            kind,
            channel=channel,
            detail={"from": t.before.value, "to": t.after.value, "reason": t.reason},
        )
        if t.stable:
            await self.store.add_events([event], t.at)
            state = old
        else:
            # Health columns only: an operator's force written meanwhile stays in force.
            state = await self.store.set_channel_health(
                channel, t.after, t.at, t.reason, [event], t.at
            )
        self.states[channel] = state
        self.metrics.set_health(channel, state.effective)
        level = logging.WARNING if t.after is not Health.UP else logging.INFO
        log.log(
            level,
            "channel %s %s -> %s: %s",
            channel,
            t.before.value,
            t.after.value,
            t.reason,
            extra={"event": kind, "channel": channel, "from": t.before.value, "to": t.after.value},
        )
        if state.forced.value == "auto":
            await self.react(channel, t, old, state)
