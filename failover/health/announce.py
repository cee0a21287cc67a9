"""What people hear about an outage: the public announcements (once per outage, the recovery
only if the outage one went out) and the operators' alerts through their own ``[alerts]`` route.

Announcements and alerts are ordinary messages, accepted through the same intake and
delivered with the same retries, so they are as durable as anything else. A drill's go to
the operators unless the drill is public, and say "[drill]".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from failover.clock import Clock
from failover.config import ALERTS_ROUTE
from failover.model import ChannelState, DeliveryState, Event
from failover.runtime import RuntimeGetter
from failover.store.base import NewEvent, Store

log = logging.getLogger("failover.health.announce")


@dataclass
class Announcer:
    store: Store
    clock: Clock
    runtime: RuntimeGetter
    drills: dict[str, str]  # channel -> "internal" | "public", while an operator drills it

    async def outage(self, channel: str, state: ChannelState) -> None:
        config = self.runtime().config
        for name, route in config.routes.items():
            if not route.announce.down or channel not in route.primary:
                continue
            if await self._open_outage(channel, name) is not None:
                continue  # already announced for this outage (a flap while on probation)
            drill = self.drills.get(channel)
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
            if route not in self.runtime().config.routes:
                log.warning("drill announcement not posted: no [alerts] channel to send it to")
                return None
        message, _, _ = await self.runtime().intake.submit(
            {"text": text, "route": route}, actor="failover:announce", internal=True
        )
        return message.id

    async def recovery(self, channel: str, state: ChannelState) -> None:
        config = self.runtime().config
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
        config = self.runtime().config
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
            "feed_url": self.runtime().feed_url() or "",
            "profiles": " ".join(p for p in profiles if p),
        }
        try:
            return template.format(**values).strip()
        except (KeyError, IndexError, ValueError) as exc:
            log.error("announcement template of route %s is broken: %s", route_name, exc)
            return template

    # -- operator alerts -------------------------------------------------------------------------

    async def alert(self, kind: str, text: str, channel: str | None = None) -> None:
        config = self.runtime().config
        if not config.alerts.channels or kind not in config.alerts.on:
            return
        if channel is not None and config.alerts.channels == [channel]:
            return  # the only alert channel is the one that is down: nothing to alert through
        if channel is not None and self.drills.get(channel) is not None:
            text = f"[drill] {text}"
        try:
            await self.runtime().intake.submit(
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
            await self.alert(
                "dead", f"message {message_id} could not be delivered on {channel}: {why}", channel
            )
