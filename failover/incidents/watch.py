"""The daemon's side task for incidents: sync components from the config, then, on the
cluster's leader only, run maintenance timers and the components' probes.

Paced in real time (like the daemon's other loops); every decision reads the injected clock,
so a test moves maintenance along with a FakeClock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import aiohttp

from failover.clock import Clock
from failover.config import Config
from failover.errors import FailoverError
from failover.incidents.probe_watch import ProbeWatch
from failover.incidents.service import Incidents
from failover.incidents.timers import run_due
from failover.intake import Intake
from failover.store.base import Store
from failover.store.status import ComponentSpec

log = logging.getLogger("failover.incidents")


class DaemonView(Protocol):
    """What the task reads of the daemon (the config and intake change on reload)."""

    store: Store
    clock: Clock
    config: Config
    intake: Intake
    leading: bool


def component_specs(config: Config) -> list[ComponentSpec]:
    """``[components.<id>]`` as the store keeps them; position defaults to file order."""
    return [
        ComponentSpec(
            cid, c.name, c.description, c.group, i if c.position is None else c.position, c.probe
        )
        for i, (cid, c) in enumerate(config.components.items())
    ]


def status_task(daemon: DaemonView) -> Callable[[], Coroutine[Any, Any, None]]:
    """The factory the daemon's supervisor runs (and restarts if it dies)."""
    return lambda: run(daemon)


async def run(daemon: DaemonView) -> None:
    synced: Config | None = None
    watch = ProbeWatch()
    async with aiohttp.ClientSession() as session:
        while True:
            config = daemon.config
            try:
                if config is not synced:  # at start, and after each reload
                    now = daemon.clock.now()
                    await daemon.store.upsert_components(component_specs(config), now)
                    synced = config
                if daemon.leading:
                    incidents = Incidents(daemon.store, daemon.clock, daemon.intake, config)
                    await run_due(incidents)
                    await watch.run_due(incidents, session)
            except FailoverError as exc:  # e.g. a route removed by a reload: say so, go on
                log.error("incident timers: %s", exc, extra={"event": "incidents.error"})
            except Exception:  # the store unreachable a moment: the next tick tries again
                log.exception("incident timers failed", extra={"event": "incidents.error"})
            await asyncio.sleep(_tick(config))


def _tick(config: Config) -> float:
    probes = [c.probe_interval for c in config.components.values() if c.probe]
    return max(0.05, min([config.incidents.timer_interval, *probes]))
