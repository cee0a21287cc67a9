"""The daemon's side tasks for the status page: incident timers and probes, and the page's
static copies. Listed here so the daemon starts them in one loop and stays wiring only."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from failover.clock import Clock
from failover.config import Config
from failover.incidents.watch import status_task
from failover.runtime import RuntimeGetter
from failover.statuspage.static_copies import keep_copies
from failover.store.base import Store

Task = Callable[[], Coroutine[Any, Any, None]]


def side_tasks(
    store: Store, clock: Clock, current: RuntimeGetter, leading: Callable[[], bool]
) -> list[tuple[str, Task]]:
    """(name, factory) for the supervisor; static copies only when ``static_dir`` is set at
    start (a reload may move or pause them, not start them)."""

    def config() -> Config:
        return current().config

    tasks: list[tuple[str, Task]] = [("incidents", status_task(store, clock, current, leading))]
    if config().status_page.static_dir is not None:
        tasks.append(("status-copies", partial(keep_copies, store, config, clock)))
    return tasks
