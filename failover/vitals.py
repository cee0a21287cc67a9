"""Is the event loop turning, and can the store write? What /readyz and the watchdog report.

Two probes, nothing else: a timer that measures how late the loop wakes it (the loop-lag
metric), and a heartbeat that makes a real write check on the store. systemd's watchdog is
pinged only after a write check passes, so "alive" means the loop and the store work.
Readiness reasons never quote the store's error (it may name a host or a user); the log
line does, once per outage.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from failover.clock import Clock
from failover.errors import FailoverError
from failover.health.board import HealthBoard
from failover.metrics import Metrics
from failover.notify import Notifier
from failover.store import Store

log = logging.getLogger("failover.vitals")

LAG_TICK = 0.25  # seconds between loop-lag samples
LAG_WINDOW = 10.0  # the metric is the worst lag over this many seconds


class Vitals:
    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        metrics: Metrics,
        status_line: Callable[[], Awaitable[str]],
        *,
        store_timeout: float = 5.0,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.metrics = metrics
        self.status_line = status_line
        self.store_timeout = store_timeout
        self.interval = min(notifier.watchdog_interval() or 5.0, 5.0)
        self.store_problem: str | None = None
        self._checking_since: float | None = None  # a write check is waiting for an answer
        self._lags: deque[tuple[float, float]] = deque()
        self._last_tick = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # -- loop lag: a timer chain, so no task can die and leave the metric frozen --------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._last_tick = loop.time()
        self._timer = loop.call_later(LAG_TICK, self._tick, self._last_tick + LAG_TICK)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self, due: float) -> None:
        loop = asyncio.get_running_loop()
        now = self._last_tick = loop.time()
        self._lags.append((now, max(0.0, now - due)))
        while self._lags[0][0] < now - LAG_WINDOW:
            self._lags.popleft()
        self.metrics.loop_lag.set(max(lag for _, lag in self._lags))
        self._timer = loop.call_later(LAG_TICK, self._tick, now + LAG_TICK)

    # -- the heartbeat: a write check, then the watchdog ping ---------------------------------

    async def check_store(self) -> bool:
        self._checking_since = asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(self.store_timeout):
                await self.store.ping()
        except (FailoverError, TimeoutError) as exc:
            if self.store_problem is None:
                log.warning(
                    "the store cannot write: %s", exc or "no answer", extra={"event": "store.down"}
                )
            self.store_problem = (
                f"the store did not answer a write within {self.store_timeout:g}s"
                if isinstance(exc, TimeoutError)
                else "the store cannot write"
            )
            return False
        finally:
            self._checking_since = None
        if self.store_problem is not None:
            log.info("the store writes again", extra={"event": "store.up"})
        self.store_problem = None
        return True

    async def heartbeat(self) -> None:
        """The supervised side task: check, ping the watchdog when all is well, repeat."""
        while True:
            if await self.check_store() and self.notifier.enabled:
                try:
                    status = await self.status_line()
                except FailoverError:
                    status = "status unavailable: the store did not answer a read"
                self.notifier.send(WATCHDOG=1, STATUS=status)
            await asyncio.sleep(self.interval)

    async def ready(self) -> str | None:
        """For /readyz: None when ready, else why not."""
        return self.problem()

    def problem(self) -> str | None:
        """Why the daemon is not ready, or None. Names no host, user or path."""
        now = asyncio.get_running_loop().time()
        if self._timer is not None and now - self._last_tick > 10:
            return f"event loop stalled for {now - self._last_tick:.0f}s"
        if self._checking_since is not None and now - self._checking_since > self.store_timeout:
            # A cancelled SQLite write still waits for SQLite's lock: say so while it does.
            return f"the store did not answer a write within {self.store_timeout:g}s"
        return self.store_problem


async def status_line(store: Store, clock: Clock, board: HealthBoard) -> str:
    """One line for systemd's STATUS: the primary's health, the queue, what is unusable."""
    q = await store.queue_stats(clock.now())
    runtime = board.runtime()
    route = runtime.routes.get(runtime.config.default_route)
    states = board.states
    primary = ", ".join(
        f"{name} {states[name].effective.value if name in states else 'unknown'}"
        for name in (route.primary if route else [])
    )
    down = [n for n in runtime.channels.names() if board.unusable(n)]
    return (
        f"primary {primary or 'none'}; queue {q.pending} pending, {q.sending} sending; "
        f"unavailable: {', '.join(down) or 'none'}"
    )


async def render_metrics(store: Store, clock: Clock, metrics: Metrics) -> bytes:
    """The Prometheus exposition, with the queue counted now."""
    now = clock.now()
    q = await store.queue_stats(now)
    metrics.set_store(store.statements, store.commits)
    metrics.set_queue(q, (now - q.oldest_due_at).total_seconds() if q.oldest_due_at else 0.0)
    return metrics.render()
