"""Drains the actor's per-inbox delivery queue: claim due rows, POST them signed, record.

Claims expire (``LEASE``), so with several daemons on one PostgreSQL store each row goes
out from one of them and a daemon that dies mid-send hands its rows on. Each inbox is
retried on its own (``failover.retry.inbox_decision``); a failing inbox never holds back
the others, and a host behind an open circuit breaker is not even claimed.
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
        concurrency: int = 8,
    ) -> None:
        self.store = store
        self.clock = clock
        self.owner = owner
        self.key = key
        self.session = session
        self.spacing = spacing
        self.concurrency = concurrency
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                batch = await self.round()
            except FailoverError as exc:
                log.warning("inbox deliveries: the store failed: %s", exc)
                batch = 0
            if batch:
                continue
            await self._sleep()

    async def round(self) -> int:
        """Claim and send one batch; return how many were claimed."""
        now = self.clock.now()
        until = now + timedelta(seconds=LEASE)
        claimed = await self.store.ap_claim(self.owner, now, until, self.concurrency)
        if claimed:
            await asyncio.gather(*(self._send(d) for d in claimed))
        return len(claimed)

    async def _sleep(self) -> None:
        pause = POLL
        with contextlib.suppress(FailoverError):
            due = await self.store.ap_next_due()
            if due is not None:
                pause = min(POLL, max(0.0, (due - self.clock.now()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(pause, 0.05))

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
        host = await self.store.ap_host(d.host)
        if error is None:
            await self.store.ap_finish(d, self.owner, "delivered", now, status, None, None, now)
            return
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
