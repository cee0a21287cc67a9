"""Who decides: one daemon leads (runs the probes and the failover decisions), all send.

Leadership is a lease row on the store's clock (``try_lead``), renewed every third of
``leader_lease``. A leader that cannot renew stops deciding after half a lease, before the
lease can pass to another daemon; a follower takes health from the store, where the leader
writes it. Alone on its own store (SQLite) a daemon leads from start to stop and says nothing
about it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from failover import __version__
from failover.clock import Clock
from failover.dispatcher import Dispatcher
from failover.errors import FailoverError
from failover.health.announce import Announcer
from failover.health.board import HealthBoard
from failover.health.forcing import Forcing
from failover.health.monitor import HealthMonitor
from failover.health.reactions import Reactions
from failover.metrics import Metrics
from failover.runtime import RuntimeGetter
from failover.store.base import NewEvent, Store

log = logging.getLogger("failover.cluster")


class Cluster:
    """This daemon's part in the cluster, and the leader's machinery: the probe runner, the
    reactions it drives, and operators' forces (any daemon takes them; the leader adopts)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        owner: str,
        runtime: RuntimeGetter,
        board: HealthBoard,
        *,
        dispatcher: Dispatcher,
        announcer: Announcer,
        wake: Callable[[], None],
        metrics: Metrics,
    ) -> None:
        self.store = store
        self.clock = clock
        self.owner = owner
        self.runtime = runtime
        reactions = Reactions(store, clock, runtime, board, dispatcher, announcer, wake)
        self.monitor = HealthMonitor(store, clock, board, runtime, reactions.on_change, metrics)
        self.forcing = Forcing(store, clock, board, reactions, announcer.drills, wake)
        self.leading = False  # holds the leader lease: runs probes and failover decisions
        self._stepped_down: str | None = None  # why it last stopped leading, until it leads again
        self._lease_renewed = 0.0  # monotonic: when the attempt that last renewed it began
        self._renewal: asyncio.Task[int | None] | None = None

    async def run(self) -> None:
        """The supervised side task: a tick every third of the lease, sooner when a leader's
        deadline to renew comes first."""
        interval = max(0.2, self.runtime().config.leader_lease / 3)
        while True:
            pause = interval
            if self.leading:  # a leader that failed to renew comes back by its deadline
                pause = min(interval, max(0.05, self._renew_by() - self.clock.monotonic()))
            await asyncio.sleep(pause)
            try:
                await self.tick()
            except Exception:
                log.exception("cluster tick failed")

    async def tick(self) -> None:
        """Heartbeat, take or renew the leader lease, and act on what changed."""
        ttl = self.runtime().config.leader_lease
        now = self.clock.now()
        if not self.store.shared:  # alone on its own store: it leads from start to stop
            epoch = None
            with contextlib.suppress(FailoverError, TimeoutError):
                epoch = await self.renew(ttl, now, ttl * 0.25)  # keeps `nodes` current
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
            epoch = await self.renew(ttl, now, budget)
        except (FailoverError, TimeoutError) as exc:
            if self.leading and self.clock.monotonic() >= self._renew_by():
                why = str(exc) or f"no answer within {budget:.2g}s"
                await self._step_down(f"cannot renew the lease: {why}")
            return
        if epoch is None:
            if self.leading:
                await self._step_down("another daemon holds the lease")
            self.monitor.board.adopt(await self.store.channel_states())  # the leader's word
            return
        # From the attempt's start: the database computed the lease's end after it, and a
        # starved process may read the answer long after. Never later than the real lease.
        self._lease_renewed = started
        if not self.leading:
            await self._lead(epoch)
        else:
            await self.forcing.adopt()

    async def renew(self, ttl: float, now: datetime, budget: float) -> int | None:
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

    async def stop(self) -> None:
        """Stop deciding and give the lease up now, not after it lapses. The cluster's side
        task must have ended first, so it cannot take the lease back."""
        if self._renewal is not None:
            self._renewal.cancel()
            await asyncio.gather(self._renewal, return_exceptions=True)
        await self.monitor.stop()
        self.leading = False
        with contextlib.suppress(FailoverError):
            await self.store.forget(self.owner)

    def _renew_by(self) -> float:
        """When (monotonic) a leader that has not renewed its lease must stop deciding: half
        the lease after the last renewal, well before the lease (on the database's clock)
        can pass to another daemon."""
        return self._lease_renewed + self.runtime().config.leader_lease * 0.5

    async def _heartbeat_and_lead(self, ttl: float, now: datetime) -> int | None:
        info = {"version": __version__, "api": self.runtime().config.api.listen}
        await self.store.heartbeat(self.owner, info, ttl * 2, now)
        return await self.store.try_lead(self.owner, ttl, now)

    async def _lead(self, epoch: int) -> None:
        self.monitor.board.adopt(await self.store.channel_states())
        await self.monitor.start()
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


def _consume(task: asyncio.Task[int | None]) -> None:
    if not task.cancelled():
        task.exception()
