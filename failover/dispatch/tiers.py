"""The route's other tiers, seen from one delivery.

Reroute: a delivery lost for good hands its message to the next tier. Escalate: the next
tier gets it too while this one goes on (its channel went down mid-send, or the route's
``escalate_after`` passed). Supersede: once a tier has delivered on a failover route, later
tiers still waiting are not needed. The watch runs beside an attempt and escalates when
``retry.decide`` says so; every such decision is ``decide``'s, none is made here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from failover import router
from failover.clock import Clock
from failover.config import RetryConfig
from failover.dispatch.record import shielded
from failover.metrics import Metrics
from failover.model import Delivery, DeliveryState, Message
from failover.retry import Situation, StillRunning, decide
from failover.runtime import RuntimeGetter
from failover.store.base import NewEvent, Store

log = logging.getLogger("failover.dispatch")
WATCH_TICK = 0.25  # seconds between an attempt's watcher looks at health and deadlines


@dataclass
class Tiers:
    store: Store
    clock: Clock
    runtime: RuntimeGetter
    unusable: router.Usability
    metrics: Metrics

    def escalate_at(
        self, message: Message, delivery: Delivery, started: datetime
    ) -> datetime | None:
        """When this tier's time to confirm the message runs out (failover routes only)."""
        route = self.runtime().config.routes.get(message.route)
        if route is None or route.mode != "failover" or route.escalate_after is None:
            return None
        first = delivery.first_attempt_at or started
        return first + timedelta(seconds=route.escalate_after)

    async def watch(
        self,
        message: Message,
        delivery: Delivery,
        started: datetime,
        on_slow: Callable[[str], None],
        wake: Callable[[], None],
    ) -> None:
        """Runs beside an attempt, where a hang shows only as silence. Once the attempt has
        lasted as long as the channel's quickest probe may, a probe would have failed:
        ``on_slow`` has health recheck now. If the channel goes down meanwhile, or the
        escalation deadline passes, ``decide`` says whether the next tier gets the message
        too while this attempt goes on (when it ends it is recorded, and reconciled rather
        than posted twice); ``wake`` then has the scheduler look for the new work."""
        channel = delivery.channel
        channel_config = self.runtime().config.channels.get(channel)
        probes = channel_config.health.probes if channel_config else []
        policy = channel_config.retry if channel_config else RetryConfig()
        loop = asyncio.get_running_loop()  # real time: a fake clock must not jump in a send
        slow_at = loop.time() + min(p.timeout for p in probes) if probes else None
        deadline = self.escalate_at(message, delivery, started)
        first = delivery.first_attempt_at or started
        seen_down = False
        while slow_at is not None or deadline is not None or not seen_down:
            await asyncio.sleep(WATCH_TICK)
            if slow_at is not None and loop.time() >= slow_at:
                slow_at = None
                on_slow(channel)
            now = self.clock.now()
            why = None if seen_down else self.unusable(channel)
            down = why is not None and why.down
            due = deadline is not None and now >= deadline
            if not (down or due):
                continue
            situation = Situation(
                unusable=why if down else None,
                fallback=await self.has_fallback(message, delivery),
                escalate_at=deadline,
            )
            running = StillRunning((now - first).total_seconds())
            d = decide(running, attempts=delivery.attempts + 1, first_attempt_at=first,
                       now=now, policy=policy, situation=situation)  # fmt: skip
            if d.escalate:
                if await shielded(self.escalate(message, delivery, d.reason)):
                    wake()
                return
            seen_down = seen_down or down
            deadline = None if due else deadline

    async def escalate(self, message: Message, delivery: Delivery, why: str) -> list[Delivery]:
        """The next tier gets the message too; ``delivery`` goes on (and is reconciled, not
        posted twice, if its platform answers late)."""
        reason = f"{delivery.channel}: {why}"
        return await self.reroute(message, delivery, reason, kind="message.escalated")

    async def supersede(self, message: Message, delivered: Delivery) -> None:
        """A failover route needs one tier: once a tier has delivered, later tiers still
        waiting (their channels down too) are not needed any more."""
        route = self.runtime().config.routes.get(message.route)
        if route is None or route.mode != "failover" or delivered.tier + 1 >= len(route.tiers):
            return  # no later tier: nothing to read (the common case costs no statement)
        now = self.clock.now()
        for d in await self.store.deliveries(message.id):
            if d.tier <= delivered.tier or d.state is not DeliveryState.PENDING:
                continue
            why = f"superseded: delivered on {delivered.channel}"
            event = NewEvent(
                "delivery.skipped",
                channel=d.channel,
                message_id=message.id,
                delivery_id=d.id,
                detail={"reason": why},
            )
            await self.store.skip_pending(d.id, why, [event], now)

    async def has_fallback(self, message: Message, delivery: Delivery) -> bool:
        """Whether a later tier of the route has the message already (on its way or
        delivered: it was escalated) or could take it over right now."""
        route = self.runtime().config.routes.get(message.route)
        if route is None or route.mode != "failover":
            return False
        existing = await self.store.deliveries(message.id)
        live = (DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.DELIVERED)
        if any(d.tier > delivery.tier and d.state in live for d in existing):
            return True
        planned = router.next_tier(route, existing, delivery, self.clock.now(), self.unusable)
        return any(d.state is DeliveryState.PENDING for d in planned)

    async def reroute(
        self, message: Message, lost: Delivery, reason: str, kind: str = "message.rerouted"
    ) -> list[Delivery]:
        """Send ``message`` to the next tier of its route in place of (or, escalating,
        beside) ``lost``."""
        route = self.runtime().config.routes.get(message.route)
        if route is None:
            return []
        existing = await self.store.deliveries(message.id)
        now = self.clock.now()
        planned = router.next_tier(route, existing, lost, now, self.unusable)
        if not planned:
            return []
        events = [
            NewEvent(
                kind,
                message_id=message.id,
                channel=lost.channel,
                detail={
                    "from": lost.channel,
                    "to": [d.channel for d in planned if d.state is DeliveryState.PENDING],
                    "skipped": [d.channel for d in planned if d.state is DeliveryState.SKIPPED],
                    "reason": reason,
                },
            )
        ]
        added = await self.store.add_deliveries(message.id, planned, events, now)
        if added:
            self.metrics.failovers.labels(message.route, lost.channel).inc()
        log.warning(
            "message %s %s from %s to %s: %s",
            message.id,
            kind.removeprefix("message."),
            lost.channel,
            [d.channel for d in added],
            reason,
            extra={"event": kind, "message_id": message.id},
        )
        return added
