"""The probe runner: runs each channel's probes, applies them and every send's outcome (posted
on the board) to the state machines, and turns their transitions into stored channel states,
events and the daemon's reactions.

Transitions are applied one at a time, in order, by a single worker, so a reaction (reroute,
failback, announcement) never races another for the same channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import aiohttp

from failover.clock import Clock
from failover.config import ProbeConfig
from failover.health.board import HealthBoard
from failover.health.machine import HealthMachine, Transition
from failover.metrics import Metrics
from failover.model import ChannelState, Health
from failover.probes import run_probe
from failover.runtime import RuntimeGetter
from failover.store.base import NewEvent, Store

log = logging.getLogger("failover.health.monitor")

# (channel, state before, state after, transition): Reactions.on_change
Reaction = Callable[[str, ChannelState, ChannelState, Transition | None], Awaitable[None]]


class HealthMonitor:
    """Runs on the leader only: started when it takes the lease, stopped when it loses it."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        board: HealthBoard,
        runtime: RuntimeGetter,
        react: Reaction,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics or Metrics()
        self.store = store
        self.clock = clock
        self.board = board
        self.runtime = runtime
        self.react = react
        self._probe_tasks: list[asyncio.Task[None]] = []
        self._worker: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.rounds_done = asyncio.Event()  # set once every probe has run once

    async def start(self) -> None:
        """Start afresh from the board's states: machines of an earlier term are stale."""
        self.board.machines.clear()
        self.board.observations = asyncio.Queue()
        self._session = aiohttp.ClientSession(headers={"User-Agent": "failover-health"})
        self._worker = asyncio.create_task(self._apply_loop(), name="health-worker")
        self.board.listening = True
        await self._configure()

    async def reload(self) -> None:
        """Probes for the config just swapped in; machines keep their state across reloads."""
        if self.board.listening:
            await self._configure()

    async def first_round(self) -> None:
        """Wait (bounded) for every probe to have run once: READY means health is known."""
        probes = [p for ch in self.runtime().config.channels.values() for p in ch.health.probes]
        if not probes:
            return
        limit = max(p.timeout for p in probes) + 2.0
        try:
            async with asyncio.timeout(limit):
                await self.rounds_done.wait()
        except TimeoutError:
            log.warning("first probe round not finished after %.0fs; starting anyway", limit)

    async def _configure(self) -> None:
        runtime = self.runtime()
        for task in self._probe_tasks:
            task.cancel()
        self._probe_tasks.clear()
        self.board.nudges.clear()
        first_round = []
        for name, ch in runtime.config.channels.items():
            machine = self.board.machines.get(name)
            state = self.board.states.get(name, ChannelState(name))
            if machine is None or machine.config != ch.health:
                machine = HealthMachine(ch.health, state.health, state.since)
                self.board.machines[name] = machine
            self.metrics.set_health(name, state.effective)
            live = runtime.channels.get(name)
            if live is None or live.adapter is None:
                # Disabled or missing secrets: a configuration problem, reported as such; not
                # an outage of the platform to probe, announce or fail over for.
                continue
            for probe in ch.health.probes:
                done, nudge = asyncio.Event(), asyncio.Event()
                first_round.append(done)
                self.board.nudges.setdefault(name, []).append(nudge)
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
        await self.board.observations.join()
        self.rounds_done.set()

    async def stop(self) -> None:
        """Cancel probes and the worker at once; waiting for a hung probe may take long."""
        self.board.listening = False
        for task in [*self._probe_tasks, *([self._worker] if self._worker else [])]:
            task.cancel()
        await asyncio.gather(
            *self._probe_tasks, *([self._worker] if self._worker else []), return_exceptions=True
        )
        self._probe_tasks.clear()
        self._worker = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- probes and transitions ----------------------------------------------------------------

    async def _probe_loop(
        self, channel: str, probe: ProbeConfig, first: asyncio.Event, nudge: asyncio.Event
    ) -> None:
        assert self._session is not None
        while True:
            nudge.clear()
            started = self.clock.monotonic()
            try:
                live = self.runtime().channels.get(channel)
                obs = await run_probe(probe, self._session, live.adapter if live else None)
                self.metrics.probe_duration.labels(channel, probe.kind).observe(
                    self.clock.monotonic() - started
                )
                if obs is not None and not obs.ok:
                    self.metrics.probe_failures.labels(channel, probe.kind).inc()
                if obs is not None:
                    self.board.observations.put_nowait((channel, obs))
                    await self.board.observations.join()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("probe %s of %s crashed", probe.kind, channel)
            first.set()
            machine = self.board.machines.get(channel)
            interval = probe.interval
            if machine is not None and machine.suspect:
                interval = min(interval, machine.config.recheck)
            elapsed = self.clock.monotonic() - started
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(nudge.wait(), max(0.0, interval - elapsed))

    async def _apply_loop(self) -> None:
        queue = self.board.observations
        while True:
            channel, obs = await queue.get()
            try:
                machine = self.board.machines.get(channel)
                if machine is not None:
                    transition = machine.observe(obs, self.clock.now())
                    if transition is not None:
                        await self._apply(channel, transition)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("applying a health observation for %s failed", channel)
            finally:
                queue.task_done()

    async def _apply(self, channel: str, t: Transition) -> None:
        old = self.board.states.get(channel, ChannelState(channel))
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
        self.board.states[channel] = state
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
            await self.react(channel, old, state, t)
