"""Retract: take a published message down from every channel that can delete it.

Cancel stops what has not been sent; retract deletes what was. Each channel's outcome is
recorded as an event (``delivery.retracted``, ``delivery.retract_failed``,
``delivery.retract_impossible``), so the message page and ``failover show`` say, per channel,
what is still public. Transient errors are retried with the one retry policy
(``retry.decide``) on a short budget, because someone is waiting for the answer; retracting
again retries only the channels where it failed. Email, webhooks and notification services
cannot unsend, and retract says so plainly instead of pretending.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from channels.base import ChannelError, Receipt, Retracts
from failover.clock import Clock
from failover.config import RetryConfig
from failover.errors import Conflict, NotFound
from failover.live_channels import ChannelSet
from failover.model import Delivery, DeliveryState
from failover.retry import decide
from failover.store.base import NewEvent, Store

log = logging.getLogger("failover.retract")

# Someone is waiting on the answer: a few quick tries, then "run retract again".
POLICY = RetryConfig(max_attempts=3, max_elapsed=20.0, initial=0.5, max_backoff=5.0, jitter=0.2)
CANNOT = {
    "email": "email cannot be unsent: it is already in people's inboxes",
    "webhook": "a webhook cannot be unsent: ask the receiver's owner to remove it",
    "apprise": "notifications cannot be unsent",
}
DONE, FAILED, IMPOSSIBLE = "retracted", "failed", "cannot"


@dataclass
class Retractor:
    store: Store
    clock: Clock
    channels: Callable[[], ChannelSet]
    cancel: Callable[[int, str], Any]  # intake.cancel: what is still pending must not go out

    async def retract(self, message_id: int, actor: str) -> dict[str, Any]:
        """Delete the message wherever it was published; return the outcome per channel."""
        if await self.store.message(message_id) is None:
            raise NotFound(f"no message {message_id}")
        stopped = await self._stop_pending(message_id, actor)
        already = await self._already_retracted(message_id)
        outcomes = []
        for delivery in await self.store.deliveries(message_id):
            if not published(delivery):
                continue
            if delivery.channel in already:
                outcomes.append(_outcome(delivery, DONE, "already taken down"))
                continue
            outcome = await self._one(delivery)
            outcomes.append(outcome)
            await self._record(delivery, outcome, actor)
        return {"message_id": message_id, "stopped": stopped, "channels": outcomes}

    async def _stop_pending(self, message_id: int, actor: str) -> list[str]:
        before = await self._cancelled(message_id)
        try:
            await self.cancel(message_id, actor)
        except Conflict:
            return []  # nothing was pending
        return sorted(await self._cancelled(message_id) - before)

    async def _cancelled(self, message_id: int) -> set[str]:
        deliveries = await self.store.deliveries(message_id)
        return {d.channel for d in deliveries if d.state is DeliveryState.CANCELLED}

    async def _already_retracted(self, message_id: int) -> set[str]:
        events = await self.store.events(limit=1000, message_id=message_id)
        return {e.channel for e in events if e.kind == "delivery.retracted" and e.channel}

    async def _one(self, delivery: Delivery) -> dict[str, Any]:
        live = self.channels().get(delivery.channel)
        kind = live.config.type if live else ""
        if kind in CANNOT:
            return _outcome(delivery, IMPOSSIBLE, CANNOT[kind])
        adapter = live.adapter if live else None
        if not isinstance(adapter, Retracts):
            why = "this channel is not connected" if live and live.problem else (
                "this channel cannot delete its posts"
            )  # fmt: skip
            return _outcome(delivery, IMPOSSIBLE, why)
        parts = _parts(delivery)
        try:  # the last reply first, so a thread never points at a deleted post
            for part in reversed(parts):
                await self._with_retry(adapter, _receipt(part))
        except ChannelError as exc:
            return _outcome(delivery, FAILED, exc.reason)
        return _outcome(delivery, DONE, f"{len(parts)} post{'s' if len(parts) != 1 else ''}")

    async def _with_retry(self, adapter: Retracts, part: Receipt) -> None:
        first, attempts = self.clock.now(), 0
        while True:
            attempts += 1
            try:
                await adapter.retract(part)
                return
            except ChannelError as exc:
                now = self.clock.now()
                decision = decide(
                    exc, attempts=attempts, first_attempt_at=first, now=now, policy=POLICY
                )
                if decision.retry_at is None:
                    raise
                await self.clock.sleep((decision.retry_at - now).total_seconds())

    async def _record(self, delivery: Delivery, outcome: dict[str, Any], actor: str) -> None:
        kind = {DONE: "delivery.retracted", FAILED: "delivery.retract_failed"}.get(
            outcome["outcome"], "delivery.retract_impossible"
        )
        event = NewEvent(
            kind, actor=actor, channel=delivery.channel, message_id=delivery.message_id,
            delivery_id=delivery.id, detail={"why": outcome["detail"], "url": delivery.url},
        )  # fmt: skip
        await self.store.add_events([event], self.clock.now())
        level = logging.WARNING if outcome["outcome"] == FAILED else logging.INFO
        log.log(level, "retract message %s on %s: %s (%s)", delivery.message_id,
                delivery.channel, outcome["outcome"], outcome["detail"])  # fmt: skip


def _parts(delivery: Delivery) -> list[dict[str, Any]]:
    """What is public of a delivery: every posted part (a thread that failed halfway too)."""
    if delivery.state is DeliveryState.DELIVERED:
        return delivery.receipt.get("parts") or [
            {"remote_id": delivery.remote_id, "url": delivery.url, "extra": delivery.receipt}
        ]
    return list(delivery.progress.get("parts") or [])


def published(delivery: Delivery) -> bool:
    """Whether some of it is public (so retract has something to take down)."""
    if delivery.state in (DeliveryState.PENDING, DeliveryState.SENDING):
        return False  # still in the sender's hands (cancel stops what is pending)
    return bool(_parts(delivery))


def _receipt(part: dict[str, Any]) -> Receipt:
    return Receipt(
        remote_id=part.get("remote_id"), url=part.get("url"), extra=part.get("extra") or {}
    )


def _outcome(delivery: Delivery, outcome: str, detail: str) -> dict[str, Any]:
    return {"channel": delivery.channel, "outcome": outcome, "detail": detail, "url": delivery.url}
