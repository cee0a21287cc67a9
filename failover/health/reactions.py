"""Reactions to health changes: what happens when a channel's effective health changes.

- **down**: pending deliveries of failover routes move to the next tier at once (each move an
  event with its reason; one in flight is handed on at once and leaves the channel when its
  attempt ends, see the dispatcher);
  the outage announcement goes out once per outage; operators are told.
- **up** (on probation): failback — what the primary missed is backfilled, attempts that may
  have landed first (reconciled before anything is posted again), then oldest first and
  paced, if the route says so (never expired or cancelled messages).
- **stable** (probation passed): the recovery announcement, only if the outage one went out.

Announcements and alerts are ordinary messages, accepted through the same intake and
delivered with the same retries, so they are as durable as anything else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from failover.clock import Clock
from failover.config import ALERTS_ROUTE, Config
from failover.dispatcher import Dispatcher
from failover.health.machine import Transition
from failover.intake import Intake
from failover.model import ChannelState, DeliveryState, Event, Health
from failover.store.base import NewEvent, Store

log = logging.getLogger("failover.health.reactions")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Reactions:
    store: Store
    clock: Clock  # every timestamp it writes comes from here, so a FakeClock governs it too
    config: Callable[[], Config]
    dispatcher: Callable[[], Dispatcher]
    intake: Callable[[], Intake]
    wake: Callable[[], None]
    feed_url: Callable[[], str | None]
    usable: Callable[[str], bool] = lambda name: True
    # A drill on this channel: "internal" (announcements go to operators) or "public"
    drill: Callable[[str], str | None] = lambda name: None

    async def on_change(
        self, channel: str, before: ChannelState, after: ChannelState, t: Transition | None
    ) -> None:
        """React to a change of ``channel``'s effective health (probe, send or operator)."""
        was, now = before.effective, after.effective
        if t is not None and t.stable:
            await self._announce_recovery(channel, after)
            return
        if now is Health.DOWN and was is not Health.DOWN:
            await self._alert("health", f"channel {channel} is DOWN: {after.reason}", channel)
            await self.reroute_pending(channel, after.reason)
            await self._announce_outage(channel, after)
        elif was is Health.DOWN and now is not Health.DOWN:
            await self._alert(
                "health", f"channel {channel} is back {now.value}: {after.reason}", channel
            )
            await self.failback(channel, outage_start=before.since or EPOCH)
            if t is None and now is Health.UP and self.usable(channel):
                # An operator said so: no probation to wait for, but only for a channel known
                # to work. Given back to its probes (unknown) it waits for them to say so.
                await self._announce_recovery(channel, after)
        self.wake()

    async def reroute_pending(self, channel: str, reason: str) -> int:
        """Move pending deliveries on a down channel to their routes' next tier."""
        config = self.config()
        moved = waiting = 0
        for delivery in await self.store.pending_on(channel):
            message = await self.store.message(delivery.message_id)
            route = config.routes.get(message.route) if message else None
            if message is None or route is None or route.mode != "failover":
                continue  # broadcast deliveries wait for their channel
            if not await self.dispatcher().has_fallback(message, delivery):
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
                await self.dispatcher().reroute(message, skipped, f"{channel} is down: {reason}")
                moved += 1
        if moved:
            log.warning(
                "rerouted %d pending messages away from %s",
                moved,
                channel,
                extra={"event": "channel.rerouted", "channel": channel, "count": moved},
            )
            await self._alert(
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
        config = self.config()
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

    # -- announcements ---------------------------------------------------------------------------

    async def _announce_outage(self, channel: str, state: ChannelState) -> None:
        config = self.config()
        for name, route in config.routes.items():
            if not route.announce.down or channel not in route.primary:
                continue
            if await self._open_outage(channel, name) is not None:
                continue  # already announced for this outage (a flap while on probation)
            drill = self.drill(channel)
            text = self._render(route.announce.down, channel, state, name)
            message = await self._post_announcement(text, name, drill)
            detail: dict[str, Any] = {"route": name}
            if drill is not None:
                detail["drill"] = drill
            await self.store.add_events(
                [NewEvent("announce.down", channel=channel, message_id=message, detail=detail)],
                self.clock.now(),
            )

    async def _post_announcement(self, text: str, route: str, drill: str | None) -> int | None:
        """Post an announcement; a drill's goes to operators unless it is a public drill."""
        if drill is not None:
            text = f"[drill] {text}"
            route = route if drill == "public" else ALERTS_ROUTE
            if route not in self.config().routes:
                log.warning("drill announcement not posted: no [alerts] channel to send it to")
                return None
        message, _ = await self.intake().submit(
            {"text": text, "route": route}, actor="failover:announce", internal=True
        )
        return message.id

    async def _announce_recovery(self, channel: str, state: ChannelState) -> None:
        config = self.config()
        for name, route in config.routes.items():
            if channel not in route.primary:
                continue
            opened = await self._open_outage(channel, name)
            if opened is None:
                continue
            drill = opened.detail.get("drill")
            detail: dict[str, Any] = {"route": name, "outage_message": opened.message_id}
            if drill is not None:
                detail["drill"] = drill
            await self.store.add_events(
                [NewEvent("announce.up", channel=channel, detail=detail)], self.clock.now()
            )
            went_out = opened.message_id is not None and any(
                d.state is DeliveryState.DELIVERED
                for d in await self.store.deliveries(opened.message_id)
            )
            if route.announce.up and went_out:
                text = self._render(route.announce.up, channel, state, name)
                await self._post_announcement(text, name, drill)

    async def _open_outage(self, channel: str, route: str) -> Event | None:
        """The outage announcement of ``route`` for ``channel`` not yet closed by a recovery."""
        for event in await self.store.events(channel=channel, limit=200):
            if event.detail.get("route") != route:
                continue
            if event.kind == "announce.up":
                return None
            if event.kind == "announce.down":
                return event
        return None

    def _render(self, template: str, channel: str, state: ChannelState, route_name: str) -> str:
        config = self.config()
        route = config.routes[route_name]
        profiles = [
            config.channels[c].profile
            for tier in route.tiers[1:]
            for c in tier
            if c in config.channels and config.channels[c].profile
        ]
        values = {
            "channel": config.channels[channel].label if channel in config.channels else channel,
            "since": state.since.strftime("%H:%M UTC") if state.since else "just now",
            "feed_url": self.feed_url() or "",
            "profiles": " ".join(p for p in profiles if p),
        }
        try:
            return template.format(**values).strip()
        except (KeyError, IndexError, ValueError) as exc:
            log.error("announcement template of route %s is broken: %s", route_name, exc)
            return template

    # -- operator alerts -------------------------------------------------------------------------

    async def _alert(self, kind: str, text: str, channel: str | None = None) -> None:
        config = self.config()
        if not config.alerts.channels or kind not in config.alerts.on:
            return
        if channel is not None and config.alerts.channels == [channel]:
            return  # the only alert channel is the one that is down: nothing to alert through
        if channel is not None and self.drill(channel) is not None:
            text = f"[drill] {text}"
        try:
            await self.intake().submit(
                {"text": f"[failover] {text}", "route": ALERTS_ROUTE},
                actor="failover:alert",
                internal=True,
            )
        except Exception:
            log.exception("could not queue an operator alert")

    async def delivery_lost(
        self, message_route: str, channel: str, message_id: int, why: str
    ) -> None:
        """Dispatcher hook: a delivery went dead; operators hear of it (not of alert deliveries)."""
        if message_route != ALERTS_ROUTE:
            await self._alert(
                "dead", f"message {message_id} could not be delivered on {channel}: {why}", channel
            )
