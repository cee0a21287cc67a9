"""What the HTTP layer needs from the daemon, handed over as one object."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aiohttp import web

from failover.clock import Clock
from failover.config import Config
from failover.intake import Intake
from failover.live_channels import ChannelSet
from failover.model import ChannelState, Forced
from failover.store.base import Store


class Force(Protocol):
    """An operator's word on a channel; ``drill`` ("internal" or "public") marks a drill, and
    ``message_id`` names its test message, so the message's own timeline says so too."""

    def __call__(
        self,
        name: str,
        forced: Forced,
        actor: str,
        drill: str | None = None,
        message_id: int | None = None,
    ) -> Awaitable[ChannelState]: ...


@dataclass
class ApiContext:
    store: Store
    clock: Clock
    config: Callable[[], Config]  # the current config (it changes on reload)
    channels: Callable[[], ChannelSet]
    intake: Callable[[], Intake]
    public_dir: Callable[[], Path | None]  # the feed channel's directory, served at /status/
    ready: Callable[[], Awaitable[str | None]]  # None when ready, else why not
    force: Force
    metrics: Callable[[], Awaitable[bytes]]  # Prometheus text exposition


CONTEXT: web.AppKey[ApiContext] = web.AppKey("failover", ApiContext)
