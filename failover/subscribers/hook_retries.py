"""Sends webhook subscribers the copies they missed, again, from the store: the same body and
Idempotency-Key as the first POST, signed at send time with the hook's secret as it is now.

Only the cluster's leader runs it, and each copy is claimed with a lease (row locks on
PostgreSQL), so two daemons never send one copy at once; a daemon killed mid-send leaves a
claim that expires and the copy goes out again (the receiver drops the repeat by its key).
``failover.retry.hook_decision`` says when the next try is, or that it is given up; a give-up
is the event ``subscriber.hook_gave_up``. Paced in real time; every decision reads the
injected clock, so a test moves the schedule along with a FakeClock and ``wake``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from channels.base import ChannelError, PermanentError, TransientError
from channels.webhook import WebhookChannel
from channels.webhook_fanout import HookCopy, HookTarget
from failover.retry import hook_decision
from failover.store.subscribers import HookRetry
from failover.subscribers.hooks import GAVE_UP, gave_up, record
from failover.subscribers.signup import Subscriptions

log = logging.getLogger("failover.subscribers")

BATCH = 8  # copies claimed and sent at once
POLL = 5.0  # expired claims and other daemons' work are found at least this often
MIN_PAUSE = 0.2


class HookRetries:
    def __init__(self, subs: Subscriptions, owner: str, leading: Callable[[], bool]) -> None:
        self.subs = subs
        self.owner = owner
        self.leading = leading
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """The side task: on the leader, send what is due; then sleep until the next copy is
        due (by the clock), ``wake`` or ``POLL``."""
        while True:
            self._wake.clear()
            pause = POLL
            try:
                if self.leading():
                    pause = await self._round()
            except Exception:  # the store unreachable a moment: the next round tries again
                log.exception("webhook retries failed", extra={"event": "subscribers.error"})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

    async def _round(self) -> float:
        """Send what is due, if anything (an idle round only reads); the pause after it."""
        now = self.subs.clock.now()
        due = await self.subs.store.hook_retry_next_due(now)
        if due is not None and due <= now and await self.run_due() == BATCH:
            return 0.0  # more may be due: go on at once
        if due is not None and due <= now:  # sent: what comes next?
            due = await self.subs.store.hook_retry_next_due(self.subs.clock.now())
        if due is None:
            return POLL
        return min(POLL, max(MIN_PAUSE, (due - self.subs.clock.now()).total_seconds()))

    async def run_due(self) -> int:
        """Claim the copies due now and send each once; returns how many were claimed."""
        now = self.subs.clock.now()
        until = now + timedelta(seconds=self._lease())
        claimed = await self.subs.store.hook_retry_claim(self.owner, now, until, BATCH)
        await asyncio.gather(*(self._send(r) for r in claimed))
        return len(claimed)

    def _lease(self) -> float:
        """Long enough for the slowest hook channel's timeout, twice over."""
        timeouts = [
            live.adapter.options.timeout
            for live in self.subs.channels().all()
            if isinstance(live.adapter, WebhookChannel)
        ]
        return max([60.0, *(2 * t for t in timeouts)])

    async def _send(self, r: HookRetry) -> None:
        live = self.subs.channels().get(r.channel)
        adapter = live.adapter if live is not None else None
        if not isinstance(adapter, WebhookChannel) or adapter.options.recipients_from is None:
            why = f"the channel {r.channel} no longer sends to webhook subscribers"
            await self._finish(r, PermanentError(why), None)
            return
        target = HookTarget(str(r.subscriber_id), r.address, r.secret)
        copy = HookCopy(r.message_id, r.copy_key, r.body)
        claim = f"{self.owner} hook-retry/{r.id}/{r.attempts + 1}"
        try:
            error = await adapter.resend(target, copy, claim)
        except Exception as exc:  # a bug must not kill the loop: count it as transient
            log.exception("retry %d to webhook subscriber %d crashed", r.id, r.subscriber_id)
            error = TransientError(f"crashed: {type(exc).__name__}")
        # Persist what happened even if we are being cancelled (the POST may have landed).
        await asyncio.shield(self._finish(r, error, r.subscriber_id))

    async def _finish(self, r: HookRetry, error: ChannelError | None, counted: int | None) -> None:
        """Record one retry's outcome; ``counted``: the hook whose failure count it changes."""
        store, now = self.subs.store, self.subs.clock.now()
        if error is None:
            await store.hook_retry_finish(r, self.owner, now, due_at=None, error=None)
            log.info("webhook subscriber %d took update %d on retry %d", r.subscriber_id,
                     r.message_id, r.attempts, extra={"event": "subscriber.hook_retried"})  # fmt: skip
        else:
            await self._failed(r, error, now)
        if counted is not None:
            await record(self.subs, counted, error, None)

    async def _failed(self, r: HookRetry, error: ChannelError, now: datetime) -> None:
        schedule = tuple(self.subs.config().subscribers.hook_retries)
        attempts = r.attempts + 1
        decision = hook_decision(
            error, attempts=attempts, now=now, schedule=schedule, jitter=random.random()
        )
        store = self.subs.store
        if decision.retry_at is not None:
            await store.hook_retry_finish(
                r, self.owner, now, due_at=decision.retry_at, error=error.reason
            )
            return
        detail = gave_up(r.subscriber_id, attempts, error, decision.reason)
        if await store.hook_retry_finish(
            r, self.owner, now, due_at=None, error=error.reason, gave_up=detail
        ):
            log.warning(
                "webhook subscriber %d: update %d given up after %d attempts: %s",
                r.subscriber_id, r.message_id, attempts, error.reason,
                extra={"event": GAVE_UP, "subscriber": r.subscriber_id},
            )  # fmt: skip
