"""The live adapter instances of the configured channels, opened and closed together.

A channel that cannot be used (disabled, secrets missing, adapter failed to open) stays in
the set with the reason, so status and routing can say why instead of forgetting it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from channels.base import Channel, ChannelContext, ChannelError
from channels.registry import adapter_class
from failover import __version__
from failover.config import ChannelConfig, Config

log = logging.getLogger("failover.channels")

OPEN_TIMEOUT = 20.0


@dataclass
class LiveChannel:
    config: ChannelConfig
    adapter: Channel | None
    problem: str | None = None  # why the adapter is not usable

    @property
    def name(self) -> str:
        return self.config.name


class ChannelSet:
    def __init__(self, channels: dict[str, LiveChannel]) -> None:
        self._channels = channels

    @classmethod
    async def open(
        cls, config: Config, reuse: ChannelSet | None = None
    ) -> tuple[ChannelSet, list[LiveChannel]]:
        """Open adapters for ``config``; with ``reuse``, keep the unchanged ones.

        Returns the new set and the old channels that are no longer used (to close later).
        """
        old = dict(reuse._channels) if reuse else {}
        opened: dict[str, LiveChannel] = {}
        to_open: list[ChannelConfig] = []
        for name, ch in config.channels.items():
            prev = old.get(name)
            if prev is not None and prev.config == ch and prev.adapter is not None:
                opened[name] = old.pop(name)
            else:
                to_open.append(ch)
        results = await asyncio.gather(*(_open_one(config, ch) for ch in to_open))
        for live in results:
            opened[live.name] = live
        return cls(opened), list(old.values())

    def get(self, name: str) -> LiveChannel | None:
        return self._channels.get(name)

    def all(self) -> list[LiveChannel]:
        return list(self._channels.values())

    def names(self) -> list[str]:
        return list(self._channels)

    async def close(self) -> None:
        await close_channels(self.all())


async def close_channels(channels: list[LiveChannel]) -> None:
    for live in channels:
        if live.adapter is not None:
            try:
                await live.adapter.close()
            except Exception:
                log.exception("closing channel %s failed", live.name)


async def _open_one(config: Config, ch: ChannelConfig) -> LiveChannel:
    if not ch.enabled:
        return LiveChannel(ch, None, "disabled in the config")
    if ch.missing:
        # Said once, short, by the daemon at start (failover.startup.not_connected).
        return LiveChannel(ch, None, "missing secrets: " + "; ".join(ch.missing))
    if ch.options is None:
        return LiveChannel(ch, None, "options invalid")
    cls = adapter_class(ch.type)
    state_dir: Path = config.state_dir / "channels" / ch.name
    state_dir.mkdir(parents=True, exist_ok=True)
    context = ChannelContext(
        name=ch.name,
        state_dir=state_dir,
        public_url=config.api.public_url or f"http://{config.api.listen}",
        user_agent=f"failover/{__version__}",
    )
    adapter = cls(context, ch.options)  # type: ignore[call-arg]
    try:
        async with asyncio.timeout(OPEN_TIMEOUT):
            await adapter.open()
    except (ChannelError, TimeoutError) as exc:
        reason = exc.reason if isinstance(exc, ChannelError) else "timed out"
        log.error("channel %s could not be opened: %s", ch.name, reason)
        # Keep the adapter: a platform that is down at start-up is a health matter, and
        # its deliveries wait and retry rather than being dropped.
        return LiveChannel(ch, adapter, None)
    except Exception as exc:
        log.exception("channel %s failed to open", ch.name)
        return LiveChannel(ch, None, f"adapter failed to open: {type(exc).__name__}")
    return LiveChannel(ch, adapter)
