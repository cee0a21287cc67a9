"""Reactions to health changes: what happens when a channel's effective health changes.

- **down**: pending deliveries of failover routes move to the next tier at once (each move an
  event with its reason; one in flight is handed on at once and leaves the channel when its
  attempt ends, see the dispatcher);
  the outage announcement goes out once per outage; operators are told.
- **up** (on probation): failback — what the primary missed is backfilled, attempts that may
  have landed first (reconciled before anything is posted again), then oldest first and
  paced, if the route says so (never expired or cancelled messages).
- **stable** (probation passed): the recovery announcement, only if the outage one went out.

What is said, to whom, lives in ``failover.health.announce``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from failover.clock import Clock
from failover.dispatcher import Dispatcher
from failover.health.announce import Announcer
from failover.health.board import HealthBoard
from failover.health.machine import Transition
from failover.model import ChannelState, Health
from failover.runtime import RuntimeGetter
from failover.store.base import NewEvent, Store

log = logging.getLogger("failover.health.reactions")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Reactions:
    store: Store
    clock: Clock  # every timestamp it writes comes from here, so a FakeClock governs it too
    runtime: RuntimeGetter
    board: HealthBoard
    dispatcher: Dispatcher
    announcer: Announcer
    wake: Callable[[], None]  # the scheduler: deliveries moved or revived are due now

    async def on_change(
        self, channel: str, before: ChannelState, after: ChannelState, t: Transition | None
    ) -> None:
        """React to a change of ``channel``'s effective health (probe, send or operator)."""
        was, now = before.effective, after.effective
        if t is not None and t.stable:
            await self.announcer.recovery(channel, after)
            return
        if now is Health.DOWN and was is not Health.DOWN:
            await self.announcer.alert(
                "health", f"channel {channel} is DOWN: {after.reason}", channel
            )
            await self.reroute_pending(channel, after.reason)
            await self.announcer.outage(channel, after)
        elif was is Health.DOWN and now is not Health.DOWN:
            await self.announcer.alert(
                "health", f"channel {channel} is back {now.value}: {after.reason}", channel
            )
            await self.failback(channel, outage_start=before.since or EPOCH)
            if t is None and now is Health.UP and self.board.unusable(channel) is None:
                # An operator said so: no probation to wait for, but only for a channel known
                # to work. Given back to its probes (unknown) it waits for them to say so.
                await self.announcer.recovery(channel, after)
        self.wake()

    async def reroute_pending(self, channel: str, reason: str) -> int:
        """Move pending deliveries on a down channel to their routes' next tier."""
        config = self.runtime().config
        moved = waiting = 0
        for delivery in await self.store.pending_on(channel):
            message = await self.store.message(delivery.message_id)
            route = config.routes.get(message.route) if message else None
            if message is None or route is None or route.mode != "failover":
                continue  # broadcast deliveries wait for their channel
            if not await self.dispatcher.has_fallback(message, delivery):
                # No usable tier is left: the message waits for its channel (or its expiry)
                # rather than being given up while every way out is closed.
                waiting += 1
                continue
            event = NewEvent(
                "delivery.skipped",
                channel=channel,
                message_id=message.id,
                delivery_id=delivery.id,
                detail={"reason": f"channel down: {reason}"},
            )
            skipped = await self.store.skip_pending(
                delivery.id, f"down: {reason}", [event], self.clock.now()
            )
            if skipped is not None:
                await self.dispatcher.reroute(message, skipped, f"{channel} is down: {reason}")
                moved += 1
        if moved:
            log.warning(
                "rerouted %d pending messages away from %s",
                moved,
                channel,
                extra={"event": "channel.rerouted", "channel": channel, "count": moved},
            )
            await self.announcer.alert(
                "reroute", f"{moved} pending messages rerouted away from {channel}", channel
            )
        if waiting:
            log.warning(
                "%d pending messages on %s have no usable fallback and wait for it",
                waiting,
                channel,
                extra={"event": "channel.waiting", "channel": channel, "count": waiting},
            )
        return moved

    async def failback(self, channel: str, outage_start: datetime) -> int:
        """Backfill what ``channel`` missed while down, for routes that ask for it."""
        config = self.runtime().config
        now = self.clock.now()
        revived = 0
        by_route = {
            name: r
            for name, r in config.routes.items()
            if r.failback == "backfill" and channel in r.primary
        }
        if not by_route:
            return 0
        max_age = max((r.failback_max_age or 10**9) for r in by_route.values())
        min_created = max(EPOCH, now - timedelta(seconds=min(max_age, 10**9)))
        slot = now
        missed = await self.store.skipped_since(channel, outage_start, min_created, now)
        # Attempts that may have landed (a hang, a dropped answer) go first: their send starts
        # by looking for the post on the platform, so the primary never shows one twice.
        missed.sort(key=lambda d: not d.uncertain)
        for delivery in missed:
            message = await self.store.message(delivery.message_id)
            route = by_route.get(message.route) if message else None
            if message is None or route is None:
                continue
            if (message.created_by or "").startswith("failover:"):
                continue  # "we cannot reach X" is not something to post on X afterwards
            if (
                route.failback_max_age is not None
                and (now - message.created_at).total_seconds() > route.failback_max_age
            ):
                continue
            event = NewEvent(
                "delivery.backfill",
                channel=channel,
                message_id=message.id,
                delivery_id=delivery.id,
                detail={"due_at": slot.isoformat()},
            )
            if await self.store.revive_skipped(
                delivery.id, slot, "backfill after outage", [event], now
            ):
                revived += 1
                slot += timedelta(seconds=route.failback_spacing)
        if revived:
            log.info(
                "backfilling %d messages on %s",
                revived,
                channel,
                extra={"event": "channel.backfill", "channel": channel, "count": revived},
            )
        return revived
