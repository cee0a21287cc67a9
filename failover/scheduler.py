"""Wakes exactly when the next delivery is due, claims it, and runs it under a per-channel limit.

No busy polling and no fixed sleep: after each pass the scheduler asks the store when the
next thing becomes due (a scheduled time, a retry, an expiry, a lapsed claim) and waits for
that moment or for ``wake()`` (a new message, a finished send, a reload), whichever is first.
A cap on the wait lets other daemons' work and clock jumps be noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from failover.claims import Claims
from failover.clock import Clock
from failover.config import MAX_CONCURRENCY
from failover.dispatcher import Dispatcher
from failover.errors import StoreError
from failover.model import Delivery, Message
from failover.pacing import Pacer
from failover.store.base import Store

log = logging.getLogger("failover.scheduler")

MAX_IDLE_WAIT = 30.0  # seconds: upper bound on a wait, a safety net, not the mechanism
SATURATED_WAIT = 1.0  # when due work waits only for a free slot, a finished send wakes us


class Scheduler:
    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        clock: Clock,
        *,
        owner: str,
        lease: Callable[[], float],  # claim_lease of the current config
        concurrency: Callable[[str], int],
        claimable: Callable[[str], bool] = lambda _channel: True,
        pacer: Pacer | None = None,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.clock = clock
        self.owner = owner
        self.lease = lease
        self.concurrency = concurrency
        self.claimable = claimable
        self.pacer = pacer or Pacer()
        self._wake = asyncio.Event()
        self._stopping = False
        self._idle = asyncio.Event()  # no pass under way: stop() waits for one to end
        self._idle.set()
        self._inflight: dict[str, set[asyncio.Task[Delivery | None]]] = defaultdict(set)
        self.passes = 0
        # Claims are renewed while their sends run; the dispatcher sends only confirmed ones.
        self.claims = Claims(store, clock, owner=owner, lease=lease)
        dispatcher.fence = self.claims.confirm
        self._renewer: asyncio.Task[None] | None = None
        # When the soonest pending message expires, as the last pass read it (None: none
        # does); expire_due runs only once that time has come. Until the first read: now.
        self._expires_at: datetime | None = datetime.min.replace(tzinfo=UTC)

    def wake(self) -> None:
        """Look for due work now (new message, finished send, changed health or config)."""
        self._wake.set()

    @property
    def inflight(self) -> int:
        return sum(len(tasks) for tasks in self._inflight.values())

    async def run(self) -> None:
        while not self._stopping:
            self._watch_renewer()
            self._wake.clear()
            self._idle.clear()
            try:
                timeout = await self._pass()
            except Exception:
                log.exception("scheduler pass failed; retrying shortly")
                timeout = SATURATED_WAIT
            finally:
                self._idle.set()
            if self._stopping:
                break
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def _watch_renewer(self) -> None:
        """(Re)start claim renewal; a renewer that died is logged, never silently missed."""
        if self._renewer is not None and self._renewer.done():
            if not self._renewer.cancelled() and self._renewer.exception() is not None:
                log.error("claim renewal stopped", exc_info=self._renewer.exception())
            self._renewer = None
        if self._renewer is None:
            self._renewer = asyncio.create_task(self.claims.run(), name="claims")

    async def _pass(self) -> float:
        """Claim and start what is due; return how long to wait before the next pass."""
        self.passes += 1
        now = self.clock.now()
        if self._expires_at is not None and now >= self._expires_at:
            # A message accepted since the last read expires later than it was accepted, so
            # it is seen by this pass's read; and the dispatcher checks expiry before a send.
            await self.store.expire_due(now)
        blocked = False  # due work we could not start now: no free slot, or channel held back
        resume: list[float] = []  # when rate-limited channels may send again
        # Counted up to one more than any channel may have in flight: enough to know
        # whether due work is left over after this pass, whatever the backlog.
        front = await self.store.queue_front(now, self.owner, MAX_CONCURRENCY + 1)
        self._expires_at = front.expires_at
        for channel, waiting in front.due.items():
            if self._stopping:
                break
            if not self.claimable(channel):
                blocked = True
                continue
            inflight = len(self._inflight[channel])
            free = self.concurrency(channel) - inflight
            allowance = self.pacer.allowance(channel, now, inflight)
            if allowance is not None:
                free = min(free, allowance)
                at = self.pacer.resume_at(channel)
                if allowance == 0 and at is not None:
                    resume.append((at - now).total_seconds())
            if free <= 0:
                blocked = True
                continue
            lease_until = now + timedelta(seconds=self.lease())
            claimed_at = self.clock.monotonic()  # the lease ends no earlier than this + lease
            claimed = await self.store.claim(
                channel, now, self.owner, lease_until, min(free, waiting)
            )
            for delivery, message in claimed:
                self.claims.hold(delivery, claimed_at)
                self._start(delivery, message)
            if waiting > free:
                blocked = True
        later = [t for t in (front.next_due_at, front.expires_at) if t is not None]
        wait = min((t - self.clock.now()).total_seconds() for t in later) if later else None
        if blocked:
            # Due work remains that we could not start: it waits for a slot (a finished send
            # wakes us), a rate-limit window's reset, or a held-back channel (health wakes us).
            held = max(0.005, min(*resume, MAX_IDLE_WAIT)) if resume else SATURATED_WAIT
            return held if wait is None else max(0.005, min(held, wait))
        if wait is None:
            return MAX_IDLE_WAIT
        return max(0.005, min(wait, MAX_IDLE_WAIT))

    def _start(self, delivery: Delivery, message: Message) -> None:
        task = asyncio.create_task(self._run_one(delivery, message), name=f"delivery-{delivery.id}")
        self._inflight[delivery.channel].add(task)
        task.add_done_callback(functools.partial(self._done, delivery))

    def _done(self, delivery: Delivery, task: asyncio.Task[Delivery | None]) -> None:
        self._inflight[delivery.channel].discard(task)
        self.claims.drop(delivery)
        self._wake.set()

    async def _run_one(self, delivery: Delivery, message: Message) -> Delivery | None:
        try:
            return await self.dispatcher.dispatch(delivery, message)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "delivery %s failed unexpectedly; its claim will lapse and be retried", delivery.id
            )
            return None

    async def stop(self, grace: float) -> int:
        """Stop claiming; let in-flight sends finish within ``grace`` seconds; release the rest.

        Returns how many deliveries were released unfinished.
        """
        self._stopping = True
        self._wake.set()
        deadline = self.clock.monotonic() + grace
        # A pass under way may still be claiming: its sends are in flight too, and releasing
        # their claims under them would have the next daemon send them again.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._idle.wait()
        tasks = [t for ts in self._inflight.values() for t in ts]
        if tasks:
            left = max(0.0, deadline - self.clock.monotonic())
            _done, pending = await asyncio.wait(tasks, timeout=left)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        try:
            released = await self.store.release_claims(self.owner, self.clock.now())
        except StoreError as exc:
            # Stopping goes on: an unreleased claim returns to the queue when its lease ends.
            log.warning("could not release this daemon's claims while stopping: %s", exc)
            released = []
        finally:
            if self._renewer is not None:
                self._renewer.cancel()
                await asyncio.gather(self._renewer, return_exceptions=True)
            await self.claims.close()
        if released:
            log.warning(
                "released %d unfinished deliveries for the next start: %s",
                len(released),
                ", ".join(f"{d.id}/{d.claim_epoch}" for d in released),
                extra={
                    "event": "delivery.released",
                    "claims": [[d.id, d.claim_epoch] for d in released],
                },
            )
        return len(released)
