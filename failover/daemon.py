"""Wiring and lifecycle: open the store, the channels and the API; run; reload; stop.

SIGTERM/SIGINT stop claiming, give in-flight sends ``shutdown_grace`` seconds and release
the rest for the next start. SIGHUP reloads the config into a new ``Runtime``, swapped whole;
an invalid one is refused and the running one stays. State lives in the store, so a restart
resumes where it stopped. Who decides lives in ``cluster``, health in ``health/``.
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
from functools import partial

from aiohttp import web

from failover import __version__, startup, vitals
from failover.activitypub.service import FediverseService
from failover.api.context import ApiContext
from failover.api.server import serve
from failover.clock import Clock, SystemClock
from failover.cluster import Cluster
from failover.config import Config
from failover.dispatcher import Dispatcher
from failover.errors import ConfigError, FailoverError
from failover.filemodes import make_private
from failover.health.announce import Announcer
from failover.health.board import HealthBoard
from failover.intake import Intake
from failover.live_channels import ChannelSet
from failover.metrics import Metrics
from failover.model import ChannelState
from failover.notify import Notifier
from failover.reload import reread, retire_later
from failover.runtime import Runtime
from failover.scheduler import Scheduler
from failover.side_tasks import side_tasks
from failover.store import Store, open_store
from failover.store.base import NewEvent
from failover.store.sqlite import sqlite_files
from failover.subscribers.hook_retries import HookRetries
from failover.subscribers.signup import Subscriptions
from failover.subscribers.wiring import attach as attach_subscribers
from failover.supervise import Supervisor
from failover.tracing import Tracing
from failover.vitals import Vitals

log = logging.getLogger("failover.daemon")


class Daemon:
    def __init__(
        self, config: Config, *, clock: Clock | None = None, notifier: Notifier | None = None
    ) -> None:
        self.clock = clock or SystemClock()
        self.notifier = notifier or Notifier()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.store: Store = open_store(config, exclusive=True)
        self.media_dir = config.state_dir / "media"
        self.drills: dict[str, str] = {}  # channel -> "internal" | "public", while drilled
        self._stop = asyncio.Event()
        self._running = False  # wired and serving: stop() has a scheduler to stop
        self.exit_code = 0
        self.supervisor = Supervisor(self._fatal)
        self._runner: web.AppRunner | None = None
        self.metrics = Metrics()
        self.tracing = Tracing(config.tracing)
        self.fediverse = FediverseService(self.store, self.clock, self.owner)
        self.health = HealthBoard(self.clock, self.current)
        status = partial(vitals.status_line, self.store, self.clock, self.health)
        self.vitals = Vitals(self.store, self.notifier, self.metrics, status)
        announcer = Announcer(self.store, self.clock, self.current, self.drills)
        self.dispatcher = Dispatcher(
            store=self.store,
            clock=self.clock,
            owner=self.owner,
            runtime=self.current,
            media_dir=self.media_dir,
            unusable=self.health.unusable,
            listeners=[self.health.record_send],
            on_lost=announcer.delivery_lost,
            on_slow=self.health.recheck,
            metrics=self.metrics,
            tracing=self.tracing,
        )
        self.scheduler = Scheduler(
            self.store, self.dispatcher, self.clock, owner=self.owner, lease=self._claim_lease,
            concurrency=self.health.concurrency, claimable=self.health.claimable,
            pacer=self.dispatcher.pacer,
        )  # fmt: skip
        self.dispatcher.wake = self.scheduler.wake  # the scheduler is built on the dispatcher
        intake = Intake(
            store=self.store,
            clock=self.clock,
            config=config,
            channels=ChannelSet({}),
            media_dir=self.media_dir,
            unusable=self.health.unusable,
            on_accepted=self.scheduler.wake,
            metrics=self.metrics,
            tracing=self.tracing,
        )
        self.runtime = Runtime(config, intake.channels, intake)
        self.subscriptions = Subscriptions(self.store, self.clock, self.current)
        self.hook_retries = HookRetries(self.subscriptions, self.owner, self._leading)
        self.cluster = Cluster(
            self.store, self.clock, self.owner, self.current, self.health,
            dispatcher=self.dispatcher, announcer=announcer, wake=self.scheduler.wake,
            metrics=self.metrics,
        )  # fmt: skip

    # -- what the rest reads -------------------------------------------------------------------

    def current(self) -> Runtime:
        """The runtime in force: every collaborator reads it through this getter."""
        return self.runtime

    @property
    def config(self) -> Config:
        return self.runtime.config

    @property
    def states(self) -> dict[str, ChannelState]:
        return self.health.states

    def _claim_lease(self) -> float:
        return self.runtime.config.claim_lease

    def _leading(self) -> bool:
        return self.cluster.leading

    def _fatal(self, why: str) -> None:
        """A part of the daemon cannot be kept running: exit non-zero, so systemd restarts."""
        self.exit_code = 1
        self.request_stop()

    def _swap(self, config: Config, channels: ChannelSet) -> None:
        """Put a new runtime in force: one assignment that everyone reads."""
        intake = replace(self.runtime.intake, config=config, channels=channels)
        self.runtime = Runtime(config, channels, intake)
        attach_subscribers(channels, self.subscriptions, self.hook_retries.wake)

    # -- start ---------------------------------------------------------------------------------

    async def start(self) -> None:
        make_private(self.config.state_dir, sqlite_files(self.config.database_path))
        self.media_dir.mkdir(parents=True, exist_ok=True)
        await self.store.open()
        await startup.recover_claims(self.store, self.clock)
        channels, _ = await ChannelSet.open(self.config)
        self._swap(self.config, channels)
        startup.report_unconnected(channels)
        await self.fediverse.attach(channels)  # refuses a moved actor: ConfigError
        self.health.adopt(await self.store.channel_states())
        self._running = True
        self.vitals.start()
        ctx = ApiContext(
            store=self.store,
            clock=self.clock,
            runtime=self.current,
            ready=self.vitals.ready,
            force=self.cluster.forcing.force,
            metrics=partial(vitals.render_metrics, self.store, self.clock, self.metrics),
        )
        self._runner = await serve(ctx, self.config.api, lambda: self.fediverse)
        await self.cluster.tick()  # leads at once if nobody else does
        if self.cluster.leading:
            await self.cluster.monitor.first_round()  # READY means health is known
        self.supervisor.start("scheduler", self.scheduler.run)
        self.supervisor.start("heartbeat", self.vitals.heartbeat)
        self.supervisor.start("cluster", self.cluster.run)
        for name, task in side_tasks(self.store, self.clock, self.current, self._leading):
            self.supervisor.start(name, task)
        self.supervisor.start("hook-retries", self.hook_retries.run)  # leader only, inside
        if self.store.shared:  # only a shared store hears of work other daemons add
            self.supervisor.start("listener", partial(self.store.listen, self.scheduler.wake))
        await self._event("daemon.started", {"version": __version__}, actor=self.owner)
        self.notifier.send(READY=1, STATUS=await self.vitals.status_line())
        await startup.report_ready(self.store, self.config, __version__, self.runtime.feed_url())

    async def _event(self, kind: str, detail: dict[str, object], actor: str | None = None) -> None:
        await self.store.add_events([NewEvent(kind, actor=actor, detail=detail)], self.clock.now())

    # -- reload and stop -----------------------------------------------------------------------

    async def reload(self) -> bool:
        """Re-read the config file; keep the running config if the new one is invalid."""
        if self.config.source is None:
            return False
        self.notifier.send(RELOADING=1)
        fresh = await reread(self.runtime, self.store, self.clock, self.notifier)
        if fresh is None:
            return False
        new, channels, retired = fresh
        self._swap(new, channels)
        try:
            await self.fediverse.attach(channels)
        except ConfigError as exc:
            log.error("the fediverse actor keeps its old settings: %s", exc)
        await self.cluster.monitor.reload()
        self.scheduler.wake()
        retire_later(retired, new.shutdown_grace)
        await self._event("config.reloaded", {"channels": channels.names()})
        log.info("config reloaded", extra={"event": "config.reloaded"})
        self.notifier.send(READY=1, STATUS=await self.vitals.status_line())
        return True

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> int:
        """Start, serve until SIGTERM/SIGINT (SIGHUP reloads), stop cleanly; the exit code."""
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
        if self._running:
            await self.scheduler.stop(self.config.shutdown_grace)
        await self.supervisor.stop()  # the cluster loop first: it cannot take the lease back
        self.vitals.stop()
        await self.cluster.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.fediverse.stop()
        await self.runtime.channels.close()
        with contextlib.suppress(FailoverError):
            await self._event("daemon.stopped", {}, actor=self.owner)
        await self.store.close()
        self.tracing.shutdown()
        self.notifier.close()
