"""Sends one claimed delivery through its adapter and records what happened.

The entry point of a delivery's attempt, run in three steps that each have their module under
``failover/dispatch/``: compose (the posts), send (through the adapter, fenced on the claim),
record (the outcome, its attempt and event in one transaction); ``dispatch/tiers.py`` moves
the message along its route. This is where an adapter's error becomes a decision
(``retry.decide``), and where expiry, lateness and cancellation are enforced at the last
moment before calling a platform.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from channels.base import ChannelError, RateLimitedError, TransientError
from failover import router
from failover.clock import Clock
from failover.config import Config, RetryConfig, TracingConfig
from failover.dispatch.compose import Composer, Unavailable
from failover.dispatch.record import Recorder, attempt_kind, shielded, unattempted
from failover.dispatch.send import Fence, Fenced, Sender
from failover.dispatch.tiers import Tiers
from failover.live_channels import ChannelSet
from failover.metrics import Metrics
from failover.model import Delivery, DeliveryState, Message
from failover.pacing import Pacer
from failover.retry import Action, Decision, Situation, decide
from failover.runtime import RuntimeGetter
from failover.store.base import Outcome, Store
from failover.tracing import Tracing, record

log = logging.getLogger("failover.dispatch")

# Called after every attempt: (channel, ok, error or None). The health engine listens here.
AttemptListener = Callable[[str, bool, BaseException | None], None]
# Called when a delivery is lost for good: (route, channel, message id, why).
LossListener = Callable[[str, str, int, str], Awaitable[None]]


async def _unfenced(_delivery: Delivery, _timeout: float) -> bool:
    return True


@dataclass
class Dispatcher:
    store: Store
    clock: Clock
    owner: str
    runtime: RuntimeGetter  # the config and live channels in force (swapped whole on reload)
    media_dir: Path
    listeners: list[AttemptListener] = field(default_factory=list)
    unusable: router.Usability = lambda _name: None
    on_lost: LossListener | None = None
    # Tells the scheduler that work was added outside a finished send (an escalation).
    wake: Callable[[], None] = lambda: None
    # Told when an attempt on a channel has gone unanswered for as long as a probe may take.
    on_slow: Callable[[str], None] = lambda _channel: None
    pacer: Pacer = field(default_factory=Pacer)
    metrics: Metrics = field(default_factory=Metrics)
    tracing: Tracing = field(default_factory=lambda: Tracing(TracingConfig()))
    fence: Fence = _unfenced  # set by the scheduler: failover/claims.py

    def __post_init__(self) -> None:
        """The steps, built once from the fields above (``wake``, ``fence``, ``on_slow``
        and the listeners may be set later: they are read at each attempt)."""
        self._composer = Composer(self.store, self.runtime, self.media_dir, self.unusable)
        self._sender = Sender(
            self.store, self.clock, self.owner, self.runtime, self.pacer, self.tracing
        )
        self._recorder = Recorder(self.store, self.clock, self.owner, self.metrics)
        self._tiers = Tiers(self.store, self.clock, self.runtime, self.unusable, self.metrics)

    @property
    def config(self) -> Config:
        return self.runtime().config

    @property
    def channels(self) -> ChannelSet:
        return self.runtime().channels

    async def dispatch(self, delivery: Delivery, message: Message | None = None) -> Delivery | None:
        """Handle one claimed delivery to its end for now (sent, rescheduled or final).
        ``message``: the delivery's message when the claim brought it along."""
        if message is None:
            message = await self.store.message(delivery.message_id)
        if message is None:  # cannot happen with foreign keys; be loud if it does
            log.error("delivery %s has no message %s", delivery.id, delivery.message_id)
            return None
        now = self.clock.now()
        if message.cancelled_at is not None:
            return await self._recorder.close(
                delivery, DeliveryState.CANCELLED, "message cancelled", now
            )
        if message.expires_at is not None and now >= message.expires_at:
            return await self._recorder.close(
                delivery, DeliveryState.EXPIRED, "expired before it could be sent", now
            )
        if delivery.attempts == 0:
            held = await self._lateness(delivery, message, now)
            if held is not None:
                return held
        with self.tracing.span(
            "delivery.attempt",
            parent=message.traceparent,
            attributes={
                "failover.channel": delivery.channel,
                "failover.message_id": message.id,
                "failover.delivery_id": delivery.id,
                "failover.attempt": delivery.attempts + 1,
            },
        ) as span:
            result = await self._attempt(delivery, message)
            if result is not None:
                record(
                    span,
                    **{
                        "failover.state": result.state.value,
                        "failover.error": result.last_error,
                        "failover.url": result.url,
                    },
                )
            return result

    # -- lateness ------------------------------------------------------------------------------

    async def _lateness(
        self, delivery: Delivery, message: Message, now: datetime
    ) -> Delivery | None:
        """Apply the route's policy to a first send found long after its time."""
        route = self.config.routes.get(message.route)
        if route is None:
            return None
        # Measured from the delivery's own due time: a slot given by pacing or by a backfill
        # is when it was meant to go, so it is not late again when that slot comes.
        late_by = (now - delivery.due_at).total_seconds()
        if late_by <= route.lateness:
            return None
        if route.late == "miss":
            return await self._recorder.close(
                delivery,
                DeliveryState.MISSED,
                f"found {late_by:.0f}s late (lateness {route.lateness:g}s)",
                now,
            )
        # "send": late posts go out one by one, ``late_spacing`` apart per channel. The slot is
        # handed out by one UPDATE of the cursor alone: nothing else of the row is rewritten.
        slot = await self.store.advance_late_cursor(delivery.channel, now, route.late_spacing)
        if slot <= now:
            return None
        paced = unattempted(delivery, DeliveryState.PENDING, now, "late")
        why = f"late by {late_by:.0f}s: paced to {slot.isoformat()}"
        return await self._recorder.finish(delivery, replace(paced, due_at=slot, error=why), [])

    # -- the attempt: compose, send, record ----------------------------------------------------

    async def _attempt(self, delivery: Delivery, message: Message) -> Delivery | None:
        started = self.clock.now()
        progress: dict[str, Any] = dict(delivery.progress)
        receipt: dict[str, Any] = dict(delivery.receipt)
        watch = asyncio.create_task(
            self._tiers.watch(message, delivery, started, self.on_slow, self.wake),
            name=f"watch-{delivery.id}",
        )
        failure: BaseException | None = None
        try:
            composed = await self._composer.compose(delivery, message)
            done = await self._sender.send(
                delivery, message, composed, progress, receipt, self.fence
            )
        except Fenced:  # not sent: the claim is, or may be, another daemon's now
            await self._recorder.fenced(delivery, "not sent")
            return None
        except ChannelError as exc:
            if exc.progress:
                progress["adapter"] = dict(exc.progress)
            failure = exc
        except Exception as exc:
            log.exception("adapter %s crashed on delivery %s", delivery.channel, delivery.id)
            failure = exc
        finally:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        # What the platform said is known now: record it even if shutdown cancels us meanwhile.
        if failure is not None:
            return await shielded(
                self._failed(delivery, message, failure, started, progress, receipt)
            )
        return await shielded(self._delivered(delivery, message, done, started))

    async def _delivered(
        self, delivery: Delivery, message: Message, done: list[dict[str, Any]], started: datetime
    ) -> Delivery | None:
        first = done[0]
        now = self.clock.now()
        self._attempted(delivery.channel, None, started, now)
        outcome = Outcome(
            state=DeliveryState.DELIVERED,
            due_at=delivery.due_at,
            started_at=started,
            finished_at=now,
            attempt_outcome="delivered",
            remote_id=first.get("remote_id"),
            url=first.get("url"),
            receipt={"parts": done},
            progress={},
            uncertain=False,
        )
        detail = {
            "url": first.get("url"),
            "remote_id": first.get("remote_id"),
            "parts": len(done),
            "attempts": delivery.attempts + 1,
            "note": first.get("note"),
        }
        text = f"delivered message {message.id} on {delivery.channel}"
        finished = await self._recorder.record(delivery, outcome, detail, logging.INFO, text)
        if finished is not None:
            await self._tiers.supersede(message, finished)
        return finished

    async def _failed(
        self,
        delivery: Delivery,
        message: Message,
        exc: BaseException,
        started: datetime,
        progress: dict[str, Any],
        receipt: dict[str, Any],
    ) -> Delivery | None:
        """Record a failed attempt and do what ``retry.decide`` says: retry, wait, leave
        the down channel for the next tier, or give up here (and reroute)."""
        now = self.clock.now()
        kind = self._attempted(delivery.channel, exc, started, now)
        if isinstance(exc, RateLimitedError):  # the whole channel waits, not just this post
            self.pacer.update(delivery.channel, 0, exc.retry_after, now)
        reason = exc.reason if isinstance(exc, ChannelError) else f"{type(exc).__name__}: {exc}"
        d = await self._decide(delivery, message, exc, started, now)
        maybe = isinstance(exc, TransientError) and exc.maybe_delivered
        outcome = Outcome(
            state=DeliveryState.PENDING,
            due_at=d.retry_at or delivery.due_at,
            started_at=started,
            finished_at=now,
            attempt_outcome=kind,
            error=reason,
            status=exc.status if isinstance(exc, ChannelError) else None,
            progress=progress,
            receipt=receipt,
            uncertain=delivery.uncertain or maybe,
        )
        if d.action in (Action.RETRY, Action.WAIT):
            text = f"message {message.id} on {delivery.channel}: {reason} ({d.reason})"
            finished = await self._recorder.record(delivery, outcome, None, logging.WARNING, text)
            if finished is not None and d.escalate:
                await self._tiers.escalate(message, finished, f"{reason}; {d.reason}")
            return finished
        return await self._lost(delivery, message, outcome, d, reason)

    async def _lost(
        self, delivery: Delivery, message: Message, outcome: Outcome, d: Decision, reason: str
    ) -> Delivery | None:
        """Over on this channel (left for the next tier, failed or dead): record it, and the
        route's next tier takes the message."""
        where = f"message {message.id} on {delivery.channel}"
        if d.action is Action.REROUTE:
            # Skipped here (as a reroute of a pending delivery would), keeping ``uncertain``,
            # so failback reconciles it before it is ever posted again.
            note = f"{d.reason} (last attempt: {reason})"
            skipped = replace(outcome, state=DeliveryState.SKIPPED, error=note)
            detail = {"reason": f"channel {note}", "uncertain": outcome.uncertain}
            text = f"{where} skipped: channel {note}"
            lost = f"{delivery.channel} is {d.reason}"
            level = logging.WARNING
        else:
            final = DeliveryState.FAILED if d.permanent else DeliveryState.DEAD
            skipped = replace(outcome, state=final, error=f"{reason} ({d.reason})")
            detail = {"error": reason, "why": d.reason, "attempts": delivery.attempts + 1}
            text = f"{where} {final.value}: {reason}"
            lost = f"{delivery.channel} {final.value}: {reason}"
            level = logging.ERROR
        finished = await self._recorder.record(delivery, skipped, detail, level, text)
        if finished is not None:
            await self._tiers.reroute(message, finished, lost)
            if self.on_lost is not None and finished.state is DeliveryState.DEAD:
                await self.on_lost(message.route, delivery.channel, message.id, reason)
        return finished

    def _attempted(
        self, channel: str, exc: BaseException | None, started: datetime, now: datetime
    ) -> str:
        """Tell health and metrics how an attempt ended; returns the outcome's kind."""
        for listener in self.listeners:
            listener(channel, exc is None, exc)
        kind = attempt_kind(exc)
        self.metrics.attempts.labels(channel, kind).inc()
        self.metrics.attempt_duration.labels(channel).observe((now - started).total_seconds())
        return kind

    async def _decide(
        self,
        delivery: Delivery,
        message: Message,
        exc: BaseException,
        started: datetime,
        now: datetime,
    ) -> Decision:
        channel_config = self.config.channels.get(delivery.channel)
        situation = Situation(
            unusable=exc.unusable
            if isinstance(exc, Unavailable)
            else self.unusable(delivery.channel),
            fallback=await self.has_fallback(message, delivery),
            escalate_at=self._tiers.escalate_at(message, delivery, started),
        )
        return decide(
            exc,
            attempts=delivery.attempts + 1,
            first_attempt_at=delivery.first_attempt_at or started,
            now=now,
            policy=channel_config.retry if channel_config else RetryConfig(),
            situation=situation,
        )

    # -- the route's other tiers (failover/health/reactions.py asks too) ----------------------

    async def has_fallback(self, message: Message, delivery: Delivery) -> bool:
        return await self._tiers.has_fallback(message, delivery)

    async def reroute(self, message: Message, lost: Delivery, reason: str) -> list[Delivery]:
        return await self._tiers.reroute(message, lost, reason)
