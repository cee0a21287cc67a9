"""Wiring and lifecycle: open the store, the channels and the API; run; reload; stop.

SIGTERM/SIGINT stop claiming, give in-flight sends ``shutdown_grace`` seconds and release
the rest for the next start. SIGHUP reloads the config; an invalid one is refused and the
running config stays. State lives in the store, so a restart resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from aiohttp import web

from failover import __version__, startup
from failover.activitypub.routes import add_fediverse_routes
from failover.activitypub.service import FediverseService
from failover.adapters import ChannelSet, close_channels
from failover.api import ApiContext, create_app
from failover.clock import Clock, SystemClock
from failover.config import Config, load_config
from failover.dispatcher import Dispatcher
from failover.engine import Engine
from failover.errors import ConfigError, FailoverError
from failover.filemodes import make_private
from failover.health import Transition
from failover.intake import Intake
from failover.logs import register_secrets
from failover.metrics import Metrics
from failover.model import ChannelState, Forced, Health, Unusable, UnusableKind
from failover.monitor import HealthMonitor
from failover.notify import Notifier
from failover.scheduler import Scheduler
from failover.store import Store, open_store
from failover.store.base import NewEvent
from failover.store.sqlite import sqlite_files
from failover.supervise import Supervisor
from failover.tracing import Tracing
from failover.vitals import Vitals

log = logging.getLogger("failover.daemon")


class Daemon:
    def __init__(
        self, config: Config, *, clock: Clock | None = None, notifier: Notifier | None = None
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.notifier = notifier or Notifier()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.store: Store = open_store(config, exclusive=True)
        self.channels = ChannelSet({})
        self.states: dict[str, ChannelState] = {}
        self.drills: dict[str, str] = {}  # channel -> "internal" | "public", while drilled
        self.media_dir = config.state_dir / "media"
        self._stop = asyncio.Event()
        self.exit_code = 0
        self.supervisor = Supervisor(self._fatal)
        self._runner: web.AppRunner | None = None
        self.metrics = Metrics()
        self.vitals = Vitals(self.store, self.notifier, self.metrics, self.status_line)
        self.tracing = Tracing(config.tracing)
        self.leading = False  # holds the leader lease: runs probes and failover decisions
        self._stepped_down: str | None = None  # why it last stopped leading, until it leads again
        self._lease_renewed = 0.0
        self._renewal: asyncio.Task[int | None] | None = None
        self.dispatcher: Dispatcher
        self.scheduler: Scheduler
        self.intake: Intake
        self.fediverse = FediverseService(self.store, self.clock, self.owner)

    # -- start ---------------------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.config
        make_private(cfg.state_dir, sqlite_files(cfg.database_path))
        self.media_dir.mkdir(parents=True, exist_ok=True)
        await self.store.open()
        # A store of our own (SQLite): any claim left in it is from a daemon that died. Hand
        # the deliveries back (marked uncertain, so adapters reconcile before re-posting). On a
        # shared store other daemons' claims are live; a dead one's expire with their lease.
        released = (
            [] if self.store.shared else await self.store.release_claims(None, self.clock.now())
        )
        if released:
            log.warning(
                "recovered %d deliveries that were in flight when the last run ended", len(released)
            )
        self.channels, _ = await ChannelSet.open(cfg)
        for live in self.channels.all():
            if live.problem:
                short = startup.not_connected(live.config) or f"{live.name}: {live.problem}"
                log.warning("%s", short, extra={"event": "channel.unavailable"})
        await self.fediverse.attach(self.channels)  # refuses a moved actor: ConfigError
        self.states = await self.store.channel_states()
        self.engine = Engine(
            store=self.store,
            clock=self.clock,
            config=lambda: self.config,
            dispatcher=lambda: self.dispatcher,
            intake=lambda: self.intake,
            wake=lambda: self.scheduler.wake(),  # noqa: PLW0108 - the scheduler comes later
            feed_url=self.feed_url,
            usable=lambda name: self.unusable(name) is None,
            drill=self.drills.get,
        )
        self.monitor = HealthMonitor(
            self.store, self.clock, self.states, self._on_transition, self.metrics
        )
        self.dispatcher = Dispatcher(
            store=self.store,
            clock=self.clock,
            owner=self.owner,
            config=cfg,
            channels=self.channels,
            media_dir=self.media_dir,
            unusable=self.unusable,
            listeners=[self._record_send],
            on_lost=self.engine.delivery_lost,
            metrics=self.metrics,
            tracing=self.tracing,
        )
        self.scheduler = Scheduler(
            self.store,
            self.dispatcher,
            self.clock,
            owner=self.owner,
            lease=cfg.claim_lease,
            concurrency=self._concurrency,
            claimable=self._claimable,
            pacer=self.dispatcher.pacer,
        )
        self.dispatcher.wake = self.scheduler.wake
        self.dispatcher.on_slow = self._slow_send
        self.intake = self._make_intake()
        self.vitals.start()
        await self._start_api()
        await self._cluster_tick()  # leads at once if nobody else does
        if self.leading:
            await self._first_probe_round()
        self.supervisor.start("scheduler", self.scheduler.run)
        self.supervisor.start("heartbeat", self.vitals.heartbeat)
        self.supervisor.start("cluster", self._cluster_loop)
        if self.store.shared:  # only a shared store hears of work other daemons add
            self.supervisor.start("listener", lambda: self.store.listen(self.scheduler.wake))
        await self.store.add_events(
            [NewEvent("daemon.started", actor=self.owner, detail={"version": __version__})],
            self.clock.now(),
        )
        self.notifier.send(READY=1, STATUS=await self.status_line())
        log.info(
            "failover %s %s",
            __version__,
            startup.ready_line(cfg, self.feed_url()),
            extra={"event": "daemon.started"},
        )
        if not any(t.revoked_at is None for t in await self.store.tokens()):
            log.info(
                "no API token yet; create the first one with: %s",
                startup.token_create_command(cfg),
                extra={"event": "daemon.no_tokens"},
            )

    async def _first_probe_round(self) -> None:
        """READY means the first probe round is done: health is known, not guessed."""
        probes = [p for ch in self.config.channels.values() for p in ch.health.probes]
        if not probes:
            return
        limit = max(p.timeout for p in probes) + 2.0
        try:
            async with asyncio.timeout(limit):
                await self.monitor.rounds_done.wait()
        except TimeoutError:
            log.warning("first probe round not finished after %.0fs; starting anyway", limit)

    async def _on_transition(
        self, channel: str, t: Transition, before: ChannelState, after: ChannelState
    ) -> None:
        await self.engine.on_change(channel, before, after, t)

    def feed_url(self) -> str | None:
        if self.public_dir() is None:
            return None
        base = self.config.api.public_url or f"http://{self.config.api.listen}"
        return f"{base.rstrip('/')}/status/"

    def _make_intake(self) -> Intake:
        return Intake(
            store=self.store,
            clock=self.clock,
            config=self.config,
            channels=self.channels,
            media_dir=self.media_dir,
            unusable=self.unusable,
            on_accepted=self.scheduler.wake,
            metrics=self.metrics,
            tracing=self.tracing,
        )

    async def _start_api(self) -> None:
        ctx = ApiContext(
            store=self.store,
            clock=self.clock,
            config=lambda: self.config,
            channels=lambda: self.channels,
            intake=lambda: self.intake,
            public_dir=self.public_dir,
            ready=self.ready,
            force=self.force,
            metrics=self.render_metrics,
        )
        app = create_app(ctx, self.config.api.max_body)
        add_fediverse_routes(app, lambda: self.fediverse)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.config.api.host, self.config.api.port, reuse_address=True
        )
        await site.start()

    # -- what the rest asks of the daemon --------------------------------------------------------

    def unusable(self, name: str) -> Unusable | None:
        """Why ``name`` cannot take new messages now, or None when it can."""
        live = self.channels.get(name)
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

    def _concurrency(self, name: str) -> int:
        ch = self.config.channels.get(name)
        machine = self.monitor.machines.get(name)
        state = self.states.get(name)
        if (
            machine is not None
            and state is not None
            and state.forced is Forced.AUTO
            and (machine.on_probation or machine.health is Health.DOWN)
        ):
            return 1  # half-open or on probation: one trial send at a time
        return ch.concurrency if ch else 1

    def _claimable(self, name: str) -> bool:
        """Deliveries left on a down channel (broadcast routes) wait; after the cool-down one
        at a time is let through as the half-open trial."""
        state = self.states.get(name)
        if state is None or state.effective is not Health.DOWN:
            return True
        if state.forced is Forced.DOWN:
            return False
        machine = self.monitor.machines.get(name)
        return machine is not None and machine._cooled(self.clock.now())

    def public_dir(self) -> Path | None:
        for live in self.channels.all():
            if live.config.type == "feed" and live.adapter is not None:
                directory = getattr(live.adapter, "directory", None)
                if isinstance(directory, Path):
                    return directory
        return None

    async def ready(self) -> str | None:
        return self.vitals.problem()

    def _fatal(self, why: str) -> None:
        """A part of the daemon cannot be kept running: exit non-zero, so systemd restarts."""
        self.exit_code = 1
        self.request_stop()

    async def force(
        self,
        name: str,
        forced: Forced,
        actor: str,
        drill: str | None = None,
        message_id: int | None = None,
    ) -> ChannelState:
        """An operator's word on ``name``. ``drill`` ("internal" or "public") marks a forced
        outage as a drill: announcements go to operators unless public, events say so;
        ``message_id`` ties the event to the drill's test message."""
        now = self.clock.now()
        if forced is Forced.DOWN and drill is not None:
            self.drills[name] = drill
        was_drill = self.drills.get(name) if forced is not Forced.DOWN else None
        current = self.states.get(name, ChannelState(name))
        detail: dict[str, str] = {"state": forced.value}
        if drill is not None or was_drill is not None:
            detail["drill"] = drill or was_drill or "internal"
        reason = f"forced {forced.value} by {actor}" if forced is not Forced.AUTO else None
        event = NewEvent(
            "channel.forced", actor=actor, channel=name, message_id=message_id, detail=detail
        )
        # Only the force columns are written: a concurrent health change or late slot stays.
        by = actor if forced is not Forced.AUTO else None
        state = await self.store.set_channel_forced(name, forced, by, reason, [event], now)
        self.states[name] = state
        log.warning(
            "channel %s forced %s by %s",
            name,
            forced.value,
            actor,
            extra={"event": "channel.forced", "channel": name, "actor": actor},
        )
        if current.effective is not state.effective:
            # An operator's word is a health change like any other: reroute, alert, fail back.
            await self.engine.on_change(name, current, state, None)
        if forced is not Forced.DOWN:
            self.drills.pop(name, None)  # the drill is over once the channel is given back
        self.scheduler.wake()
        return state

    async def render_metrics(self) -> bytes:
        now = self.clock.now()
        q = await self.store.queue_stats(now)
        self.metrics.set_queue(
            q, (now - q.oldest_due_at).total_seconds() if q.oldest_due_at else 0.0
        )
        self.metrics.set_store(self.store.statements, self.store.commits)
        return self.metrics.render()

    async def status_line(self) -> str:
        q = await self.store.queue_stats(self.clock.now())
        route = self.config.routes.get(self.config.default_route)
        primary = ", ".join(
            f"{name} {self.states[name].effective.value if name in self.states else 'unknown'}"
            for name in (route.primary if route else [])
        )
        down = [n for n in self.channels.names() if self.unusable(n)]
        return (
            f"primary {primary or 'none'}; queue {q.pending} pending, {q.sending} sending; "
            f"unavailable: {', '.join(down) or 'none'}"
        )

    # -- the cluster: one leader decides, every daemon sends ----------------------------------

    def _record_send(self, channel: str, ok: bool, error: BaseException | None) -> None:
        if self.leading:  # the leader's health machines hear every send it makes
            self.monitor.record_send(channel, ok, error)

    def _slow_send(self, channel: str) -> None:
        if self.leading:  # a send gone silent: the leader's probes look at once
            self.monitor.recheck(channel)

    def _renew_by(self) -> float:
        """When (monotonic) a leader that has not renewed its lease must stop deciding: half
        the lease after the last renewal, well before the lease (on the database's clock)
        can pass to another daemon."""
        return self._lease_renewed + self.config.leader_lease * 0.5

    async def _renew(self, ttl: float, now: datetime, budget: float) -> int | None:
        """Heartbeat and take or renew the lease, giving up after ``budget`` seconds.

        A partitioned database hangs rather than refuses, and a cancelled query may itself
        wait seconds to cancel on the server; so the attempt runs as its own task, is left
        behind when it overruns, and no second one starts while it lingers."""
        deadline = self.clock.monotonic() + budget
        lingering = self._renewal
        if lingering is not None and not lingering.done():
            await asyncio.wait({lingering}, timeout=budget)
            if not lingering.done():
                raise TimeoutError
        task = self._renewal = asyncio.create_task(self._heartbeat_and_lead(ttl, now))
        task.add_done_callback(_consume)  # an abandoned attempt's error is not news
        await asyncio.wait({task}, timeout=max(0.0, deadline - self.clock.monotonic()))
        if not task.done():
            task.cancel()
            raise TimeoutError
        return task.result()

    async def _heartbeat_and_lead(self, ttl: float, now: datetime) -> int | None:
        info = {"version": __version__, "api": self.config.api.listen}
        await self.store.heartbeat(self.owner, info, ttl * 2, now)
        return await self.store.try_lead(self.owner, ttl, now)

    async def _cluster_tick(self) -> None:
        """Heartbeat, take or renew the leader lease, and act on what changed."""
        ttl = self.config.leader_lease
        now = self.clock.now()
        if not self.store.shared:  # alone on its own store: it leads from start to stop
            epoch = None
            with contextlib.suppress(FailoverError, TimeoutError):
                epoch = await self._renew(ttl, now, ttl * 0.25)  # keeps `nodes` current
            if not self.leading:
                await self._lead(epoch or 1)
            return
        budget = ttl * 0.25
        if self.leading:
            left = self._renew_by() - self.clock.monotonic()
            if left <= 0:
                await self._step_down(f"lease not renewed for {ttl * 0.5:g}s")
            else:
                budget = min(budget, left)
        started = self.clock.monotonic()
        try:
            epoch = await self._renew(ttl, now, budget)
        except (FailoverError, TimeoutError) as exc:
            if self.leading and self.clock.monotonic() >= self._renew_by():
                why = str(exc) or f"no answer within {budget:.2g}s"
                await self._step_down(f"cannot renew the lease: {why}")
            return
        if epoch is None:
            if self.leading:
                await self._step_down("another daemon holds the lease")
            await self._follow()
            return
        # From the attempt's start: the database computed the lease's end after it, and a
        # starved process may read the answer long after. Never later than the real lease.
        self._lease_renewed = started
        if not self.leading:
            await self._lead(epoch)
        else:
            await self._adopt_forced()

    async def _lead(self, epoch: int) -> None:
        self.states.clear()
        self.states.update(await self.store.channel_states())
        self.monitor = HealthMonitor(
            self.store, self.clock, self.states, self._on_transition, self.metrics
        )
        await self.monitor.start(self.config, self.channels)
        self.leading = True
        if self._stepped_down is not None:
            log.warning(
                "leading again (epoch %d) after: %s",
                epoch,
                self._stepped_down,
                extra={"event": "cluster.leader", "epoch": epoch},
            )
            self._stepped_down = None
        elif self.store.shared:  # alone on its own store it always leads: nothing to say
            log.info(
                "this daemon now leads (epoch %d): it runs the probes and failover decisions",
                epoch,
                extra={"event": "cluster.leader", "epoch": epoch},
            )
        if self.store.shared:
            await self.store.add_events(
                [NewEvent("cluster.leader", actor=self.owner, detail={"epoch": epoch})],
                self.clock.now(),
            )

    async def _step_down(self, why: str) -> None:
        self.leading = False
        self._stepped_down = why
        log.warning("no longer leading: %s", why, extra={"event": "cluster.follower"})
        await self.monitor.stop()  # cancels its tasks at once; waiting for them may take long

    async def _follow(self) -> None:
        """A follower takes health from the database, where the leader writes it."""
        fresh = await self.store.channel_states()
        self.states.clear()
        self.states.update(fresh)

    async def _adopt_forced(self) -> None:
        """Operators may force a channel through any daemon: the leader adopts what it finds."""
        for name, stored in (await self.store.channel_states()).items():
            mine = self.states.get(name)
            if mine is None or (stored.forced, stored.forced_by) == (mine.forced, mine.forced_by):
                continue
            merged = replace(mine, forced=stored.forced, forced_by=stored.forced_by)
            self.states[name] = merged
            await self._adopt_drill(name, stored.forced)
            if merged.effective is not mine.effective:
                await self.engine.on_change(name, mine, merged, None)

    async def _adopt_drill(self, name: str, forced: Forced) -> None:
        """A drill started through another daemon is one here too (its force event says so)."""
        if forced is not Forced.DOWN:
            self.drills.pop(name, None)
            return
        for event in await self.store.events(channel=name, limit=50):
            if event.kind == "channel.forced":
                drill = event.detail.get("drill")
                if isinstance(drill, str):
                    self.drills[name] = drill
                return

    async def _cluster_loop(self) -> None:
        interval = max(0.2, self.config.leader_lease / 3)
        while True:
            pause = interval
            if self.leading:  # a leader that failed to renew comes back by its deadline
                pause = min(interval, max(0.05, self._renew_by() - self.clock.monotonic()))
            await asyncio.sleep(pause)
            try:
                await self._cluster_tick()
            except Exception:
                log.exception("cluster tick failed")

    # -- reload and stop -----------------------------------------------------------------------

    async def reload(self) -> bool:
        """Re-read the config file; keep the running config if the new one is invalid."""
        if self.config.source is None:
            return False
        self.notifier.send(RELOADING=1)
        try:
            new = load_config(self.config.source)
            for key in ("state_dir", "store"):
                if getattr(new, key) != getattr(self.config, key):
                    raise ConfigError([f"{key}: cannot change on reload; restart the daemon"])
        except ConfigError as exc:
            log.error(
                "reload refused, the running config stays: %s",
                exc,
                extra={"event": "config.reload_refused"},
            )
            await self.store.add_events(
                [NewEvent("config.reload_refused", detail={"problems": exc.problems})],
                self.clock.now(),
            )
            self.notifier.send(READY=1, STATUS="reload refused: " + "; ".join(exc.problems)[:200])
            return False
        register_secrets(_secret_values(new))
        channels, retired = await ChannelSet.open(new, reuse=self.channels)
        self.config = new
        self.channels = channels
        self.dispatcher.config = new
        self.dispatcher.channels = channels
        self.intake = self._make_intake()
        self.scheduler.lease = new.claim_lease
        try:
            await self.fediverse.attach(channels)
        except ConfigError as exc:
            log.error("the fediverse actor keeps its old settings: %s", exc)
        if self.leading:
            await self.monitor.configure(new, channels)
        self.scheduler.wake()
        # Adapters replaced by the reload may still be sending: close them a little later.
        asyncio.get_running_loop().call_later(
            new.shutdown_grace + 1, lambda: asyncio.ensure_future(close_channels(retired))
        )
        await self.store.add_events(
            [NewEvent("config.reloaded", detail={"channels": channels.names()})], self.clock.now()
        )
        log.info("config reloaded", extra={"event": "config.reloaded"})
        self.notifier.send(READY=1, STATUS=await self.status_line())
        return True

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> int:
        """Start, serve until SIGTERM/SIGINT, then stop cleanly; the exit code. SIGHUP
        reloads."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        try:
            await self.start()
            await self._stop.wait()
        finally:
            await self.stop()
        return self.exit_code

    async def stop(self) -> None:
        self.notifier.send(STOPPING=1)
        log.info("stopping", extra={"event": "daemon.stopping"})
        self.supervisor.drain()
        if hasattr(self, "scheduler"):
            await self.scheduler.stop(self.config.shutdown_grace)
        # The cluster loop ends before the lease is given up, so it cannot take it back.
        await self.supervisor.stop()
        self.vitals.stop()
        if self._renewal is not None:
            self._renewal.cancel()
            await asyncio.gather(self._renewal, return_exceptions=True)
        if hasattr(self, "monitor"):
            await self.monitor.stop()
        with contextlib.suppress(FailoverError):
            await self.store.forget(self.owner)  # leadership moves now, not after the lease
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.fediverse.stop()
        await self.channels.close()
        with contextlib.suppress(FailoverError):
            await self.store.add_events(
                [NewEvent("daemon.stopped", actor=self.owner)], self.clock.now()
            )
        await self.store.close()
        self.tracing.shutdown()
        self.notifier.close()


def _secret_values(config: Config) -> list[str]:
    from pydantic import SecretStr

    values: list[str] = list(config.secret_values)  # whatever came from a reference
    for ch in config.channels.values():
        if ch.options is None:
            continue
        for name in type(ch.options).model_fields:
            value = getattr(ch.options, name)
            items = value if isinstance(value, list) else [value]
            values += [v.get_secret_value() for v in items if isinstance(v, SecretStr)]
    return values


def _consume(task: asyncio.Task[int | None]) -> None:
    if not task.cancelled():
        task.exception()
