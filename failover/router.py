"""Routes and tiers -> which channels a message goes to, and where it goes next.

``failover`` mode walks the tiers in order: a tier's usable channels get the message, and
the next tier is used too only when some channel of this tier is unusable (down, disabled,
missing secrets) — never two tiers when one suffices. ``broadcast`` sends to every channel.
A channel that cannot be used is recorded as a ``skipped`` delivery with the reason, so the
audit trail says why a channel did not get the message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from failover.config import RouteConfig
from failover.model import Delivery, DeliveryState, Unusable
from failover.store.base import NewDelivery

# Returns None when the channel can take new messages, else why it cannot: DOWN is a health
# outage (it passes), any other kind means the channel is not usable at all.
Usability = Callable[[str], Unusable | None]


def plan(route: RouteConfig, due_at: datetime, unusable: Usability) -> list[NewDelivery]:
    """The first deliveries of a new message on ``route``."""
    out: list[NewDelivery] = []
    if route.mode == "broadcast":
        for tier_no, tier in enumerate(route.tiers):
            for name in tier:
                reason = unusable(name)
                if reason is not None and reason.down:
                    reason = None  # a broadcast waits for a channel that is only down
                out.append(_delivery(name, tier_no, due_at, reason))
        return out
    out = _walk(route, 0, set(), due_at, unusable)
    if not any(d.state is DeliveryState.PENDING for d in out):
        # Nothing is usable anywhere: keep the message waiting on the first tier rather than
        # lose it; it is sent (or rerouted) when health comes back.
        out = [
            NewDelivery(name, 0, DeliveryState.PENDING, due_at, "no channel usable; waiting")
            for name in route.tiers[0]
        ]
    return out


def next_tier(
    route: RouteConfig,
    existing: Sequence[Delivery],
    lost: Delivery,
    due_at: datetime,
    unusable: Usability,
) -> list[NewDelivery]:
    """The deliveries that replace ``lost`` (failed for good, or its channel went down).

    Empty for broadcast routes, when a later tier is already engaged (its own outcome
    decides what happens next), or when no tier is left.
    """
    if route.mode != "failover":
        return []
    engaged = any(d.tier > lost.tier and d.state is not DeliveryState.SKIPPED for d in existing)
    if engaged:
        return []
    have = {d.channel for d in existing}
    return _walk(route, lost.tier + 1, have, due_at, unusable)


def _walk(
    route: RouteConfig, start: int, have: set[str], due_at: datetime, unusable: Usability
) -> list[NewDelivery]:
    out: list[NewDelivery] = []
    for tier_no in range(start, len(route.tiers)):
        complete = True
        for name in route.tiers[tier_no]:
            if name in have:
                continue
            reason = unusable(name)
            out.append(_delivery(name, tier_no, due_at, reason))
            complete = complete and reason is None
        if complete:
            break
    return out


def _delivery(name: str, tier: int, due_at: datetime, reason: Unusable | None) -> NewDelivery:
    if reason is None:
        return NewDelivery(name, tier, DeliveryState.PENDING, due_at)
    return NewDelivery(name, tier, DeliveryState.SKIPPED, due_at, reason.reason)
