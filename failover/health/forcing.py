"""An operator's word on a channel's health, given through this daemon or through another.

A force is a health change like any other (reroute, alert, fail back), and a drill is a
force that says so: its announcements go to the operators unless it is public. Operators may
use any daemon of a cluster; the leader adopts what it finds in the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from failover.clock import Clock
from failover.health.board import HealthBoard
from failover.health.reactions import Reactions
from failover.model import ChannelState, Forced
from failover.store.base import NewEvent, Store

log = logging.getLogger("failover.health.forcing")


@dataclass
class Forcing:
    store: Store
    clock: Clock
    board: HealthBoard
    reactions: Reactions
    drills: dict[str, str]  # channel -> "internal" | "public", while drilled
    wake: Callable[[], None]  # the scheduler: what a channel may take has changed

    async def force(
        self,
        name: str,
        forced: Forced,
        actor: str,
        drill: str | None = None,
        message_id: int | None = None,
    ) -> ChannelState:
        """An operator's word on ``name``. ``drill`` ("internal" or "public") marks a forced
        outage as a drill: announcements go to operators unless public, events say so;
        ``message_id`` ties the event to the drill's test message."""
        now = self.clock.now()
        if forced is Forced.DOWN and drill is not None:
            self.drills[name] = drill
        was_drill = self.drills.get(name) if forced is not Forced.DOWN else None
        current = self.board.states.get(name, ChannelState(name))
        detail: dict[str, str] = {"state": forced.value}
        if drill is not None or was_drill is not None:
            detail["drill"] = drill or was_drill or "internal"
        reason = f"forced {forced.value} by {actor}" if forced is not Forced.AUTO else None
        event = NewEvent(
            "channel.forced", actor=actor, channel=name, message_id=message_id, detail=detail
        )
        # Only the force columns are written: a concurrent health change or late slot stays.
        by = actor if forced is not Forced.AUTO else None
        state = await self.store.set_channel_forced(name, forced, by, reason, [event], now)
        self.board.states[name] = state
        log.warning(
            "channel %s forced %s by %s",
            name,
            forced.value,
            actor,
            extra={"event": "channel.forced", "channel": name, "actor": actor},
        )
        if current.effective is not state.effective:
            await self.reactions.on_change(name, current, state, None)
        if forced is not Forced.DOWN:
            self.drills.pop(name, None)  # the drill is over once the channel is given back
        self.wake()
        return state

    async def adopt(self) -> None:
        """The leader adopts what operators forced through other daemons."""
        for name, stored in (await self.store.channel_states()).items():
            mine = self.board.states.get(name)
            if mine is None or (stored.forced, stored.forced_by) == (mine.forced, mine.forced_by):
                continue
            merged = replace(mine, forced=stored.forced, forced_by=stored.forced_by)
            self.board.states[name] = merged
            await self._adopt_drill(name, stored.forced)
            if merged.effective is not mine.effective:
                await self.reactions.on_change(name, mine, merged, None)

    async def _adopt_drill(self, name: str, forced: Forced) -> None:
        """A drill started through another daemon is one here too (its force event says so)."""
        if forced is not Forced.DOWN:
            self.drills.pop(name, None)
            return
        for event in await self.store.events(channel=name, limit=50):
            if event.kind == "channel.forced":
                drill = event.detail.get("drill")
                if isinstance(drill, str):
                    self.drills[name] = drill
                return
