"""Drains the actor's per-inbox delivery queue: claim due rows, POST them signed, record.

Claims expire (``LEASE``), so with several daemons on one PostgreSQL store each row goes
out from one of them and a daemon that dies mid-send hands its rows on. Each inbox is
retried on its own (``failover.retry.inbox_decision``); a host gets at most ``per_host``
requests in flight, so one that hangs never holds back the others, and a host behind an
open circuit breaker is not even claimed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import datetime, timedelta

import aiohttp

from channels.activitypub.delivery import SigningKey, post_activity
from channels.base import ChannelError, TransientError
from failover.activitypub.hosts import after_failure
from failover.clock import Clock
from failover.errors import FailoverError
from failover.retry import inbox_decision
from failover.store.base import Store
from failover.store.fediverse import InboxDelivery

log = logging.getLogger("failover.activitypub")

LEASE = 60.0
POLL = 5.0  # other daemons' work and expired claims are found at least this often
MIN_PAUSE = 0.2
STOP_GRACE = 3.0  # at a stop, sends under way get this long to finish


class InboxSender:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        owner: str,
        key: SigningKey,
        session: aiohttp.ClientSession,
        *,
        spacing: float = 1.0,
        concurrency: int = 16,
        per_host: int = 4,
    ) -> None:
        self.store = store
        self.clock = clock
        self.owner = owner
        self.key = key
        self.session = session
        self.spacing = spacing
        self.concurrency = concurrency
        self.per_host = per_host
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Keep up to ``concurrency`` POSTs in flight, refilled as they finish (in batches of
        half the slots: each claim is a transaction), so a slow inbox holds back nobody."""
        refill_at = max(1, self.concurrency // 2)
        try:
            while not self._stopping:
                self._wake.clear()
                free = self.concurrency - len(self._inflight)
                if free < refill_at and self._inflight:
                    await self._wake.wait()  # a finished send wakes us
                    continue
                claimed = 0
                try:
                    claimed = self._start(await self._claim(free))
                except FailoverError as exc:
                    log.warning("inbox deliveries: the store failed: %s", exc)
                if claimed < free:  # nothing more is due now
                    await self._sleep()
        finally:
            if self._inflight:  # sends under way finish and are recorded, within a grace
                await asyncio.wait(set(self._inflight), timeout=STOP_GRACE)
            for task in self._inflight:
                task.cancel()  # unfinished: the claim expires and the row goes out again
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def stop(self, task: asyncio.Task[None]) -> None:
        """End ``run`` (running as ``task``) between store calls, never inside one: a store
        call cancelled half-way could leave its connection in a transaction."""
        self._stopping = True
        self._wake.set()
        done, _ = await asyncio.wait({task}, timeout=STOP_GRACE + 2)
        if not done:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _claim(self, limit: int) -> list[InboxDelivery]:
        now = self.clock.now()
        until = now + timedelta(seconds=LEASE)
        return await self.store.ap_claim(self.owner, now, until, limit, self.per_host)

    def _start(self, deliveries: list[InboxDelivery]) -> int:
        for d in deliveries:
            task = asyncio.create_task(self._send(d), name=f"deliver:{d.inbox}")
            self._inflight.add(task)
            task.add_done_callback(self._finished)
        return len(deliveries)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("recording a delivery failed", exc_info=task.exception())
        self._wake.set()

    async def _sleep(self) -> None:
        """Until the next row is due, new work or a finished send wakes us, or ``POLL``.
        Rows due now but held back (their host has ``per_host`` in flight, perhaps from
        another daemon) are looked at again after ``MIN_PAUSE``, not in a tight loop."""
        pause = POLL
        now = self.clock.now()
        with contextlib.suppress(FailoverError):
            due = await self.store.ap_next_due(now)
            if due is not None:
                pause = min(POLL, max(MIN_PAUSE, (due - now).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=pause)

    async def _send(self, d: InboxDelivery) -> None:
        body = (d.body or "").encode()
        error: ChannelError | None = None
        status: int | None = None
        try:
            status = await post_activity(self.session, d.inbox, body, self.key, self.clock.now())
        except ChannelError as exc:
            error = exc
        except Exception as exc:  # a bug must not kill the queue: count it as transient
            log.exception("delivery to %s crashed", d.inbox)
            error = TransientError(f"crashed: {type(exc).__name__}")
        # Persist what happened even if we are being cancelled (the POST may have landed).
        await asyncio.shield(self._record(d, status, error))

    async def _record(
        self, d: InboxDelivery, status: int | None, error: ChannelError | None
    ) -> None:
        now = self.clock.now()
        if error is None:  # the host answered: its failure record goes
            await self.store.ap_finish(d, self.owner, "delivered", now, status, None, None, now)
            return
        host = await self.store.ap_host(d.host)
        decision = inbox_decision(
            error, attempts=d.attempts + 1, now=now, spacing=self.spacing, jitter=random.random()
        )
        if error.status is None or error.status >= 500 or error.status in (408, 429):
            host = after_failure(host, d.host, now, self.spacing)  # unreachable or failing
        state = "failed" if decision.give_up else "pending"
        due: datetime = decision.retry_at or now
        reason = f"{error.reason}; {decision.reason}"
        await self.store.ap_finish(d, self.owner, state, due, error.status, reason, host, now)
        log.info(
            "delivery to %s failed (%s): %s",
            d.inbox,
            error.reason,
            decision.reason,
            extra={"event": "activitypub.delivery_failed", "inbox": d.inbox},
        )
