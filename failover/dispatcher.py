"""Sends one claimed delivery through its adapter and records what happened.

This is where an adapter's error becomes a decision (``retry.decide``), where expiry,
lateness and cancellation are enforced at the last moment before calling a platform, and
where a delivery lost for good is rerouted to the route's next tier.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from channels.base import (
    Channel,
    ChannelError,
    Media,
    PermanentError,
    Post,
    RateLimitedError,
    Receipt,
    TransientError,
)
from failover import router
from failover.clock import Clock
from failover.config import Config, RetryConfig, TracingConfig
from failover.errors import StoreError
from failover.fitting import compose, fit
from failover.live_channels import ChannelSet
from failover.metrics import Metrics
from failover.model import Delivery, DeliveryState, Message, Unusable, UnusableKind
from failover.pacing import Pacer
from failover.retry import Action, Decision, Situation, StillRunning, decide
from failover.runtime import RuntimeGetter
from failover.store.base import NewEvent, Outcome, Store
from failover.tracing import Tracing, record

log = logging.getLogger("failover.dispatch")
T = TypeVar("T")
WATCH_TICK = 0.25  # seconds between an attempt's watcher looks at health and deadlines

# Called after every attempt: (channel, ok, error or None). The health engine listens here.
AttemptListener = Callable[[str, bool, BaseException | None], None]
# Called when a delivery is lost for good: (route, channel, message id, why).
LossListener = Callable[[str, str, int, str], Awaitable[None]]
# Whether a claimed delivery is still ours long enough to start a send bounded by the given
# timeout (failover/claims.py). False: do not send, another daemon has or may take it.
Fence = Callable[[Delivery, float], Awaitable[bool]]


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
    fence: Fence = _unfenced

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
            return await self._close(delivery, DeliveryState.CANCELLED, "message cancelled", now)
        if message.expires_at is not None and now >= message.expires_at:
            return await self._close(
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
            return await self._close(
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
        paced = _unattempted(delivery, DeliveryState.PENDING, now, "late")
        why = f"late by {late_by:.0f}s: paced to {slot.isoformat()}"
        return await self._finish(delivery, replace(paced, due_at=slot, error=why), [])

    # -- the attempt: compose, send, record ----------------------------------------------------

    async def _attempt(self, delivery: Delivery, message: Message) -> Delivery | None:
        started = self.clock.now()
        progress: dict[str, Any] = dict(delivery.progress)
        receipt: dict[str, Any] = dict(delivery.receipt)
        watch = asyncio.create_task(
            self._watch(message, delivery, started), name=f"watch-{delivery.id}"
        )
        failure: BaseException | None = None
        try:
            composed = await self._compose(delivery, message)
            done = await self._send(delivery, message, composed, progress, receipt)
        except _Fenced:
            return None  # not sent: the claim is, or may be, another daemon's now
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
            return await _shielded(
                self._failed(delivery, message, failure, started, progress, receipt)
            )
        return await _shielded(self._delivered(delivery, message, done, started))

    async def _compose(self, delivery: Delivery, message: Message) -> _Composed:
        """The posts this delivery makes: its text fitted to the channel, images, thread."""
        live = self.channels.get(delivery.channel)
        if live is None or live.adapter is None:
            why = self.unusable(delivery.channel) or Unusable(
                UnusableKind.NOT_CONFIGURED if live is None else UnusableKind.BROKEN,
                (live.problem or "unavailable")
                if live
                else "channel is not in the config any more",
            )
            raise _Unavailable(why)
        adapter = live.adapter
        route = self.config.routes.get(message.route)
        text = compose(message, delivery.channel, adapter.limits)
        url = self._full_text_url(message)
        parts = fit(text, adapter.limits, route.fit if route else "thread", url)
        root, parent = await self._thread(message, delivery.channel)
        return _Composed(adapter, parts, self._media(message), root, parent, url)

    async def _send(
        self,
        delivery: Delivery,
        message: Message,
        composed: _Composed,
        progress: dict[str, Any],
        receipt: dict[str, Any],
    ) -> list[dict[str, Any]]:
        """Post the parts not yet posted; ``progress`` is kept up to date as parts go out."""
        parts = composed.parts
        done: list[dict[str, Any]] = list(progress.get("parts", []))
        timeout = max(5.0, self.config.claim_lease / 2)
        for index in range(len(done), len(parts)):
            post = Post(
                message_id=message.id,
                key=_key(message, delivery.channel, index, len(parts)),
                text=parts[index],
                created_at=message.created_at,
                title=message.title,
                link=message.link,
                media=composed.media if index == 0 else (),
                content_warning=message.content_warning,
                language=message.language,
                reply_to=_receipt(done[-1]) if done else composed.parent,
                thread_root=(composed.root or (_receipt(done[0]) if done else None)),
                part=index + 1,
                parts=len(parts),
                uncertain=delivery.uncertain and index == len(done),
                progress=progress.get("adapter", {}),
                full_text_url=composed.full_text_url,
                on_progress=self._progress_saver(delivery, progress, receipt),
                claim=f"{self.owner} {delivery.id}/{delivery.claim_epoch}",
            )
            if not await self.fence(delivery, timeout):
                await self._fenced(delivery, "not sent")
                raise _Fenced
            got = await self._send_one(composed.adapter, post, delivery.channel, limit_s=timeout)
            done.append(_receipt_dict(got))
            progress.clear()
            progress["parts"] = list(done)
            if index + 1 < len(parts):
                await _shielded(
                    self.store.save_progress(
                        delivery.id, self.owner, dict(progress), receipt, self.clock.now(),
                        epoch=delivery.claim_epoch,
                    )
                )  # fmt: skip
        return done

    async def _send_one(
        self, adapter: Channel, post: Post, channel: str, limit_s: float
    ) -> Receipt:
        """One call to the platform, bounded by ``limit_s`` seconds; the rate budget it
        reports goes to the pacer."""
        with self.tracing.span(
            "channel.send", {"failover.channel": channel, "failover.part": post.part}
        ) as send_span:
            try:
                async with asyncio.timeout(limit_s):
                    got = await adapter.send(post)
            except TimeoutError:
                raise TransientError(
                    f"no answer within {limit_s:g}s", maybe_delivered=True
                ) from None
            record(send_span, **{"failover.remote_id": got.remote_id, "failover.url": got.url})
        if got.budget is not None:
            self.pacer.update(
                channel, got.budget.remaining, got.budget.reset_after, self.clock.now()
            )
        else:
            self.pacer.unmetered(channel)
        return got

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
        finished = await self._record(delivery, outcome, detail, logging.INFO, text)
        if finished is not None:
            await self._supersede(message, finished)
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
        where = f"message {message.id} on {delivery.channel}"
        if d.action in (Action.RETRY, Action.WAIT):
            text = f"{where}: {reason} ({d.reason})"
            finished = await self._record(delivery, outcome, None, logging.WARNING, text)
            if finished is not None and d.escalate:
                await self.escalate(message, finished, f"{reason}; {d.reason}")
            return finished
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
        finished = await self._record(delivery, skipped, detail, level, text)
        if finished is not None:
            await self.reroute(message, finished, lost)
            if self.on_lost is not None and finished.state is DeliveryState.DEAD:
                await self.on_lost(message.route, delivery.channel, message.id, reason)
        return finished

    def _attempted(
        self, channel: str, exc: BaseException | None, started: datetime, now: datetime
    ) -> str:
        """Tell health and metrics how an attempt ended; returns the outcome's kind."""
        for listener in self.listeners:
            listener(channel, exc is None, exc)
        kind = "delivered" if exc is None else _kind(exc)
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
            if isinstance(exc, _Unavailable)
            else self.unusable(delivery.channel),
            fallback=await self.has_fallback(message, delivery),
            escalate_at=self._escalate_at(message, delivery, started),
        )
        return decide(
            exc,
            attempts=delivery.attempts + 1,
            first_attempt_at=delivery.first_attempt_at or started,
            now=now,
            policy=channel_config.retry if channel_config else RetryConfig(),
            situation=situation,
        )

    # -- escalation ----------------------------------------------------------------------------

    def _escalate_at(
        self, message: Message, delivery: Delivery, started: datetime
    ) -> datetime | None:
        """When this tier's time to confirm the message runs out (failover routes only)."""
        route = self.config.routes.get(message.route)
        if route is None or route.mode != "failover" or route.escalate_after is None:
            return None
        first = delivery.first_attempt_at or started
        return first + timedelta(seconds=route.escalate_after)

    async def _watch(self, message: Message, delivery: Delivery, started: datetime) -> None:
        """Runs beside an attempt, where a hang shows only as silence. Once the attempt has
        lasted as long as the channel's quickest probe may, a probe would have failed: health
        rechecks now. If the channel goes down meanwhile, or the escalation deadline passes,
        ``decide`` says whether the next tier gets the message too while this attempt goes
        on (when it ends it is recorded, and reconciled rather than posted twice)."""
        channel = delivery.channel
        channel_config = self.config.channels.get(channel)
        probes = channel_config.health.probes if channel_config else []
        policy = channel_config.retry if channel_config else RetryConfig()
        loop = asyncio.get_running_loop()  # real time: a fake clock must not jump in a send
        slow_at = loop.time() + min(p.timeout for p in probes) if probes else None
        deadline = self._escalate_at(message, delivery, started)
        first = delivery.first_attempt_at or started
        seen_down = False
        while slow_at is not None or deadline is not None or not seen_down:
            await asyncio.sleep(WATCH_TICK)
            if slow_at is not None and loop.time() >= slow_at:
                slow_at = None
                self.on_slow(channel)
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
                if await _shielded(self.escalate(message, delivery, d.reason)):
                    self.wake()
                return
            seen_down = seen_down or down
            deadline = None if due else deadline

    async def escalate(self, message: Message, delivery: Delivery, why: str) -> list[Delivery]:
        """The next tier gets the message too; ``delivery`` goes on (and is reconciled, not
        posted twice, if its platform answers late)."""
        reason = f"{delivery.channel}: {why}"
        return await self.reroute(message, delivery, reason, kind="message.escalated")

    async def _supersede(self, message: Message, delivered: Delivery) -> None:
        """A failover route needs one tier: once a tier has delivered, later tiers still
        waiting (their channels down too) are not needed any more."""
        route = self.config.routes.get(message.route)
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
        route = self.config.routes.get(message.route)
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
        """Send ``message`` to the next tier of its route in place of (or, escalating, beside)
        ``lost``."""
        route = self.config.routes.get(message.route)
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

    # -- helpers -------------------------------------------------------------------------------

    async def _close(
        self, delivery: Delivery, state: DeliveryState, why: str, now: datetime
    ) -> Delivery | None:
        """End a delivery without calling the platform (cancelled, expired, missed)."""
        outcome = replace(_unattempted(delivery, state, now, state.value), error=why)
        text = f"message {delivery.message_id} on {delivery.channel} {state.value}: {why}"
        return await self._record(delivery, outcome, {"why": why}, logging.INFO, text)

    async def _record(
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
        return await self._finish(delivery, outcome, events)

    async def _finish(
        self, delivery: Delivery, outcome: Outcome, events: list[NewEvent]
    ) -> Delivery | None:
        result = await _shielded(
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
            await self._fenced(
                delivery,
                f"outcome {outcome.attempt_outcome} refused",
                {"remote_id": outcome.remote_id, "url": outcome.url},
            )
        return result

    async def _fenced(
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

    async def _thread(
        self, message: Message, channel: str
    ) -> tuple[Receipt | None, Receipt | None]:
        """(first post, latest post) of the message's thread on ``channel``, if any."""
        if message.thread_id is None or message.thread_id == message.id:
            return None, None
        earlier = await self.store.thread_receipts(message.thread_id, channel, exclude=message.id)
        earlier = [d for d in earlier if d.message_id < message.id]
        if not earlier:
            return None, None
        first_parts = earlier[0].receipt.get("parts") or [{}]
        last_parts = earlier[-1].receipt.get("parts") or [{}]
        return _receipt(first_parts[0]), _receipt(last_parts[-1])

    def _media(self, message: Message) -> tuple[Media, ...]:
        out = []
        for image in message.images:
            data = (self.media_dir / image.sha256).read_bytes()
            out.append(
                Media(
                    data=data,
                    content_type=image.content_type,
                    alt=image.alt,
                    filename=image.sha256[:16],
                )
            )
        return tuple(out)

    def _progress_saver(
        self, delivery: Delivery, progress: dict[str, Any], receipt: dict[str, Any]
    ) -> Callable[[Mapping[str, Any]], Awaitable[None]]:
        """What a long send (a big mailing) calls to record how far it got, for the CLI/UI."""

        async def save(live: Mapping[str, Any]) -> None:
            snapshot = {**progress, "live": dict(live)}
            await _shielded(
                self.store.save_progress(
                    delivery.id,
                    self.owner,
                    snapshot,
                    receipt,
                    self.clock.now(),
                    epoch=delivery.claim_epoch,
                )
            )

        return save

    def _full_text_url(self, message: Message) -> str | None:
        base = self.config.api.public_url
        return f"{base.rstrip('/')}/status/#item-{message.id}" if base else None


async def _shielded(aw: Awaitable[T]) -> T:
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


class _Fenced(Exception):
    """The claim was not confirmed before a send: nothing was sent."""


class _Unavailable(PermanentError):
    """The channel cannot be used at all (disabled, missing secrets, gone from the config)."""

    def __init__(self, unusable: Unusable) -> None:
        super().__init__(f"channel is unavailable: {unusable.reason}")
        self.unusable = unusable


@dataclass(frozen=True)
class _Composed:
    """What ``_compose`` hands to ``_send``: the adapter and every part of the post."""

    adapter: Channel
    parts: list[str]
    media: tuple[Media, ...]
    root: Receipt | None  # the thread's first post on this channel, if continuing a thread
    parent: Receipt | None  # the thread's latest post, which the first part replies to
    full_text_url: str | None


# Outcomes the deliveries metric counts; detail keys repeated on the log line.
_COUNTED = (DeliveryState.DELIVERED, DeliveryState.FAILED, DeliveryState.DEAD)
_LOGGED = ("url", "attempts", "why", "error", "reason")


def _unattempted(delivery: Delivery, state: DeliveryState, now: datetime, kind: str) -> Outcome:
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


def _kind(exc: BaseException) -> str:
    if isinstance(exc, RateLimitedError):
        return "rate_limited"
    if isinstance(exc, TransientError):
        return "transient"
    if isinstance(exc, PermanentError):
        return "permanent"
    return "error"


def _key(message: Message, channel: str, index: int, parts: int) -> str:
    """Stable per (message, channel, part), and distinct across databases (created_at)."""
    raw = f"{message.id}:{message.created_at.timestamp():.6f}:{channel}:{index}:{parts}"
    return "fo-" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def _receipt(d: dict[str, Any]) -> Receipt:
    return Receipt(
        remote_id=d.get("remote_id"),
        url=d.get("url"),
        extra=d.get("extra") or {},
        note=d.get("note"),
    )


def _receipt_dict(r: Receipt) -> dict[str, Any]:
    return {"remote_id": r.remote_id, "url": r.url, "extra": dict(r.extra), "note": r.note}
