"""Record: how an outcome is kept, the one way for every kind of ending.

The log line, the deliveries metric, then the delivery's row with its attempt and its event in
one transaction, fenced on our claim. A write refused because the claim lapsed becomes a
``delivery.fenced`` event, so a copy posted twice can be found.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from channels.base import PermanentError, RateLimitedError, TransientError
from failover.clock import Clock
from failover.errors import StoreError
from failover.metrics import Metrics
from failover.model import Delivery, DeliveryState
from failover.store.base import NewEvent, Outcome, Store

log = logging.getLogger("failover.dispatch")
T = TypeVar("T")

# Outcomes the deliveries metric counts; detail keys repeated on the log line.
_COUNTED = (DeliveryState.DELIVERED, DeliveryState.FAILED, DeliveryState.DEAD)
_LOGGED = ("url", "attempts", "why", "error", "reason")


@dataclass
class Recorder:
    store: Store
    clock: Clock
    owner: str
    metrics: Metrics

    async def record(
        self,
        delivery: Delivery,
        outcome: Outcome,
        detail: dict[str, Any] | None,
        level: int,
        text: str,
    ) -> Delivery | None:
        """The one way an outcome is kept: the log line, then the delivery's row, its attempt
        and (with ``detail``) its ``delivery.<state>`` event in one transaction."""
        kind = "delivery.retry" if detail is None else f"delivery.{outcome.state.value}"
        log.log(
            level,
            "%s",
            text,
            extra={
                "event": kind,
                "message_id": delivery.message_id,
                "channel": delivery.channel,
                "delivery_id": delivery.id,
                **({} if detail is None else {k: v for k, v in detail.items() if k in _LOGGED}),
            },
        )
        if outcome.state in _COUNTED:
            self.metrics.deliveries.labels(delivery.channel, outcome.state.value).inc()
        events = []
        if detail is not None:
            events.append(
                NewEvent(
                    kind,
                    channel=delivery.channel,
                    message_id=delivery.message_id,
                    delivery_id=delivery.id,
                    detail=detail,
                )
            )
        return await self.finish(delivery, outcome, events)

    async def close(
        self, delivery: Delivery, state: DeliveryState, why: str, now: datetime
    ) -> Delivery | None:
        """End a delivery without calling the platform (cancelled, expired, missed)."""
        outcome = replace(unattempted(delivery, state, now, state.value), error=why)
        text = f"message {delivery.message_id} on {delivery.channel} {state.value}: {why}"
        return await self.record(delivery, outcome, {"why": why}, logging.INFO, text)

    async def finish(
        self, delivery: Delivery, outcome: Outcome, events: list[NewEvent]
    ) -> Delivery | None:
        """Write the outcome (and ``events``) if the claim is still ours; None if it is not."""
        result = await shielded(
            self.store.finish(
                delivery.id,
                self.owner,
                outcome,
                events,
                self.clock.now(),
                epoch=delivery.claim_epoch,
            )
        )
        if result is None:
            await self.fenced(
                delivery,
                f"outcome {outcome.attempt_outcome} refused",
                {"remote_id": outcome.remote_id, "url": outcome.url},
            )
        return result

    async def fenced(
        self, delivery: Delivery, what: str, copy: dict[str, Any] | None = None
    ) -> None:
        """Our claim lapsed and may be another daemon's now: that daemon reconciles (the
        delivery is uncertain) and records. We leave an event, with the post we made if any,
        so a copy sent twice can be found."""
        event = NewEvent(
            "delivery.fenced",
            actor=self.owner,
            channel=delivery.channel,
            message_id=delivery.message_id,
            delivery_id=delivery.id,
            detail={"claim_epoch": delivery.claim_epoch, "what": what, **(copy or {})},
        )
        with contextlib.suppress(StoreError):  # cut off from the store: the log still says it
            await self.store.add_events([event], self.clock.now())
        log.warning(
            "lost the claim on delivery %s (epoch %s): %s",
            delivery.id,
            delivery.claim_epoch,
            what,
            extra={
                "event": "delivery.fenced",
                "delivery_id": delivery.id,
                "claim_epoch": delivery.claim_epoch,
                "what": what,
            },
        )


def unattempted(delivery: Delivery, state: DeliveryState, now: datetime, kind: str) -> Outcome:
    """An outcome reached without calling the platform: the delivery's record is kept."""
    return Outcome(
        state=state,
        due_at=delivery.due_at,
        started_at=None,
        finished_at=now,
        attempt_outcome=kind,
        uncertain=delivery.uncertain,
        progress=delivery.progress,
        receipt=delivery.receipt,
        attempted=False,
    )


def attempt_kind(exc: BaseException | None) -> str:
    """How an attempt ended, as its attempt row and the attempts metric name it."""
    if exc is None:
        return "delivered"
    if isinstance(exc, RateLimitedError):
        return "rate_limited"
    if isinstance(exc, TransientError):
        return "transient"
    if isinstance(exc, PermanentError):
        return "permanent"
    return "error"


async def shielded(aw: Awaitable[T]) -> T:
    """Run ``aw`` to its end even when the caller is cancelled (shutdown), then re-raise the
    cancellation: an outcome already obtained from a platform is recorded, never dropped
    (procrastinate persists a job's status under ``asyncio.shield`` the same way)."""
    task = asyncio.ensure_future(aw)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved: a failed write is logged by the store, not here
        raise
