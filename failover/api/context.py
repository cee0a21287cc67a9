"""What the HTTP layer needs from the daemon, handed over as one object."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from failover.adapters import ChannelSet
from failover.clock import Clock
from failover.config import Config
from failover.intake import Intake
from failover.model import ChannelState, Forced
from failover.store.base import Store


@dataclass
class ApiContext:
    store: Store
    clock: Clock
    config: Callable[[], Config]  # the current config (it changes on reload)
    channels: Callable[[], ChannelSet]
    intake: Callable[[], Intake]
    public_dir: Callable[[], Path | None]  # the feed channel's directory, served at /status/
    ready: Callable[[], Awaitable[str | None]]  # None when ready, else why not
    # (channel, state, actor, drill: None, "internal" or "public")
    force: Callable[[str, Forced, str, str | None], Awaitable[ChannelState]]
    metrics: Callable[[], Awaitable[bytes]]  # Prometheus text exposition


CONTEXT: web.AppKey[ApiContext] = web.AppKey("failover", ApiContext)
