"""The subscribe form's limits: per address and per source, over a sliding window.

Counted in the store (``subscribe_attempts``), so every daemon of a cluster counts the same
attempts. Addresses are kept as hashes: the table says how often, never who.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

from failover.config import SubscribersConfig
from failover.store.subscribers import SubscriberStore


def address_key(address: str) -> str:
    return "addr:" + hashlib.sha256(address.encode()).hexdigest()


async def admit(
    store: SubscriberStore, cfg: SubscribersConfig, address: str, source: str, now: datetime
) -> int | None:
    """None when the attempt is within both limits (it is then counted), else the whole
    seconds to wait before the oldest counted attempt leaves the window."""
    window = timedelta(seconds=cfg.window)
    since = now - window
    keys = ((address_key(address), cfg.per_address), (f"src:{source}", cfg.per_source))
    wait = 0.0
    for key, limit in keys:
        count, oldest = await store.sub_attempts(key, since)
        if count >= limit and oldest is not None:
            wait = max(wait, (oldest + window - now).total_seconds())
    if wait > 0:
        return max(1, math.ceil(wait))
    await store.sub_record_attempt([key for key, _ in keys], now, since)
    return None
