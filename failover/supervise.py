"""Watching the daemon's side tasks (scheduler, heartbeat, cluster, listener).

A side task that ends is news: it is logged by name with its traceback and started again
after a growing pause. One that keeps failing (``max_restarts`` within ``window`` seconds)
is given up on, and ``on_fatal`` asks the daemon to exit non-zero so systemd restarts the
whole process, rather than a daemon that looks alive with a dead part (procrastinate's
``_monitor_side_tasks``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("failover.supervise")

TaskFactory = Callable[[], Coroutine[Any, Any, None]]


def restart_delay(failures: int, first: float = 0.5, most: float = 30.0) -> float:
    """Pause before restart number ``failures`` (1-based): doubling, capped."""
    return float(min(most, first * 2.0 ** (failures - 1)))


class Supervisor:
    def __init__(
        self,
        on_fatal: Callable[[str], None],
        *,
        max_restarts: int = 5,
        window: float = 300.0,
        delay: Callable[[int], float] = restart_delay,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self.on_fatal = on_fatal
        self.max_restarts = max_restarts
        self.window = window
        self.delay = delay
        self._monotonic = monotonic or (lambda: asyncio.get_running_loop().time())
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self.restarts: dict[str, int] = {}
        self.draining = False  # shutting down: a task that returns is done, not failed

    def start(self, name: str, factory: TaskFactory) -> None:
        """Run ``factory()`` as side task ``name``, watched; a fresh coroutine per restart."""
        self.restarts[name] = 0
        self._watchers[name] = asyncio.create_task(self._watch(name, factory), name=name)

    def drain(self) -> None:
        """Shutdown has begun: tasks may now end (the scheduler stops claiming) for good."""
        self.draining = True

    async def stop(self) -> None:
        self.draining = True
        for task in self._watchers.values():
            task.cancel()
        await asyncio.gather(*self._watchers.values(), return_exceptions=True)
        self._watchers.clear()

    async def _watch(self, name: str, factory: TaskFactory) -> None:
        recent: deque[float] = deque()
        while True:
            try:
                await factory()
                if self.draining:
                    return
                log.error(
                    "side task %s ended on its own; it should run until shutdown",
                    name,
                    extra={"event": "task.ended", "task": name},
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "side task %s failed", name, extra={"event": "task.failed", "task": name}
                )
            now = self._monotonic()
            recent.append(now)
            while recent and recent[0] < now - self.window:
                recent.popleft()
            if len(recent) > self.max_restarts:
                why = f"side task {name} failed {len(recent)} times in {self.window:g}s"
                log.critical(
                    "%s; stopping so the service manager restarts the daemon",
                    why,
                    extra={"event": "task.gave_up", "task": name},
                )
                self.on_fatal(why)
                return
            self.restarts[name] += 1
            pause = self.delay(len(recent))
            log.warning(
                "restarting side task %s in %.1fs",
                name,
                pause,
                extra={"event": "task.restarting", "task": name},
            )
            await asyncio.sleep(pause)
