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
from failover.runtime import RuntimeGetter
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
    runtime: RuntimeGetter  # config, channels and intake: all three change together on reload
    ready: Callable[[], Awaitable[str | None]]  # None when ready, else why not
    force: Force
    metrics: Callable[[], Awaitable[bytes]]  # Prometheus text exposition

    def config(self) -> Config:
        return self.runtime().config

    def channels(self) -> ChannelSet:
        return self.runtime().channels

    def intake(self) -> Intake:
        return self.runtime().intake

    def public_dir(self) -> Path | None:
        """The feed channel's directory, served at /status/."""
        return self.runtime().public_dir()


CONTEXT: web.AppKey[ApiContext] = web.AppKey("failover", ApiContext)
