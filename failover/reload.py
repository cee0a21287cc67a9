"""Reading the config file again (SIGHUP, or the reload API): all or nothing.

An invalid file, or one that moves the daemon's state, is refused whole: the running config
stays, and the refusal is logged, recorded as an event and told to systemd. A valid one comes
back with its channels opened, unchanged adapters reused; the daemon swaps it in.
"""

from __future__ import annotations

import asyncio
import logging

from failover.clock import Clock
from failover.config import Config, load_config
from failover.errors import ConfigError
from failover.live_channels import ChannelSet, LiveChannel, close_channels
from failover.logs import register_secrets
from failover.notify import Notifier
from failover.runtime import Runtime, secret_values
from failover.store.base import NewEvent, Store

log = logging.getLogger("failover.daemon")

FIXED_KEYS = ("state_dir", "store")  # where the daemon's state lives: a restart, not a reload


async def reread(
    running: Runtime, store: Store, clock: Clock, notifier: Notifier
) -> tuple[Config, ChannelSet, list[LiveChannel]] | None:
    """The new config, its channels, and the old channels it no longer uses; None if refused."""
    try:
        new = _load(running.config)
    except ConfigError as exc:
        log.error(
            "reload refused, the running config stays: %s",
            exc,
            extra={"event": "config.reload_refused"},
        )
        event = NewEvent("config.reload_refused", detail={"problems": exc.problems})
        await store.add_events([event], clock.now())
        notifier.send(READY=1, STATUS="reload refused: " + "; ".join(exc.problems)[:200])
        return None
    register_secrets(secret_values(new))
    channels, retired = await ChannelSet.open(new, reuse=running.channels)
    return new, channels, retired


def retire_later(retired: list[LiveChannel], grace: float) -> None:
    """Adapters replaced by a reload may still be sending: close them a little later."""
    asyncio.get_running_loop().call_later(
        grace + 1, lambda: asyncio.ensure_future(close_channels(retired))
    )


def _load(running: Config) -> Config:
    assert running.source is not None
    new = load_config(running.source)
    for key in FIXED_KEYS:
        if getattr(new, key) != getattr(running, key):
            raise ConfigError([f"{key}: cannot change on reload; restart the daemon"])
    return new
