"""Keeps this daemon's delivery claims alive while it works on them, and fences lost ones.

A claim is a lease (``claim_lease``): once ``claim_expires_at`` passes, another daemon may
take the delivery over and send it again. So a live daemon renews every claim it holds each
``lease / 4`` (one statement for all of them), and it starts a send only on a claim that the
store confirmed for long enough to cover the send (``confirm``). A claim the store no longer
lists as ours, under the epoch we claimed it with, is lost: it is not sent, and its outcome
is refused by the store's fence (``finish`` on owner and epoch).

What is left: a daemon that cannot renew for ``3/4 of claim_lease`` (killed, cut off from the
database, or starved of CPU that long) may lose claims it has already sent and not yet
recorded. docs/high-availability.md states that bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from failover.clock import Clock
from failover.model import Delivery
from failover.store.base import Store

log = logging.getLogger("failover.claims")

RENEWALS_PER_LEASE = 4  # a claim survives up to three missed renewals
MARGIN = 1 / 8  # of the lease: clock skew between daemons, a late event loop


@dataclass
class _Held:
    epoch: int
    valid_until: float  # monotonic: when the lease the store last confirmed ends
    lost: bool = False


class Claims:
    """The claims this daemon holds, each with the end of its lease on our monotonic clock."""

    def __init__(self, store: Store, clock: Clock, *, owner: str, lease: Callable[[], float]):
        self.store = store
        self.clock = clock
        self.owner = owner
        self.lease = lease
        self._held: dict[int, _Held] = {}
        self._round: asyncio.Task[None] | None = None
        self.renewals = 0
        self.lost = 0

    def hold(self, delivery: Delivery, claimed_at: float) -> None:
        """Track a fresh claim; ``claimed_at`` is the monotonic time read before claiming."""
        self._held[delivery.id] = _Held(delivery.claim_epoch, claimed_at + self.lease())

    def drop(self, delivery: Delivery) -> None:
        """The delivery's outcome is recorded (or abandoned): stop renewing its claim."""
        held = self._held.get(delivery.id)
        if held is not None and held.epoch == delivery.claim_epoch:
            del self._held[delivery.id]

    def needed(self, send_timeout: float) -> float:
        """How long a claim must stay ours to start a send bounded by ``send_timeout``."""
        lease = self.lease()
        return min(send_timeout, lease / 2) + lease * MARGIN

    async def confirm(self, delivery: Delivery, send_timeout: float) -> bool:
        """Whether ``delivery`` is still ours for long enough to start a send; renews now
        if the lease left is too short. False: do not send (the claim is, or may be, lost)."""
        held = self._held.get(delivery.id)
        if held is None or held.epoch != delivery.claim_epoch or held.lost:
            return False
        needed = self.needed(send_timeout)
        if held.valid_until - self.clock.monotonic() >= needed:
            return True
        await self.renew(budget=self.lease() / RENEWALS_PER_LEASE)
        return not held.lost and held.valid_until - self.clock.monotonic() >= needed

    async def renew(self, budget: float) -> None:
        """Renew every held claim, waiting at most ``budget`` seconds. One round at a time:
        a round that overruns keeps going (never cancelled mid-transaction) and is joined."""
        if self._round is None or self._round.done():
            self._round = asyncio.create_task(self._renew_all(), name="claims-renewal")
        await asyncio.wait({self._round}, timeout=budget)

    async def _renew_all(self) -> None:
        if not self._held:
            return
        started = self.clock.monotonic()
        lease = self.lease()
        asked = {i: h for i, h in self._held.items() if not h.lost}
        until = self.clock.now() + timedelta(seconds=lease)
        try:
            kept = await self.store.renew_claims(
                self.owner, [(i, h.epoch) for i, h in asked.items()], until
            )
        except Exception as exc:  # a lapse is the consequence, noticed by confirm()
            log.warning("could not renew %d claims: %s", len(asked), exc)
            return
        self.renewals += 1
        for delivery_id, held in asked.items():
            if (delivery_id, held.epoch) in kept:
                held.valid_until = max(held.valid_until, started + lease)
            elif self._held.get(delivery_id) is held:  # not dropped meanwhile: lost
                # Info only: a send may have just recorded its outcome (which ends the claim
                # too). The dispatcher warns (delivery.fenced) when a lost claim mattered.
                held.lost = True
                self.lost += 1
                log.info(
                    "the claim on delivery %s (epoch %s) is no longer ours",
                    delivery_id,
                    held.epoch,
                    extra={"event": "delivery.claim_lost", "delivery_id": delivery_id},
                )

    async def close(self) -> None:
        """Let a renewal round in flight end (briefly) before the store closes."""
        if self._round is not None and not self._round.done():
            await asyncio.wait({self._round}, timeout=self.lease() / RENEWALS_PER_LEASE)
            self._round.cancel()
            await asyncio.gather(self._round, return_exceptions=True)

    async def run(self) -> None:
        """Renew every ``lease / 4`` until cancelled."""
        while True:
            interval = self.lease() / RENEWALS_PER_LEASE
            began = self.clock.monotonic()
            await self.renew(budget=interval)
            await asyncio.sleep(max(0.0, interval - (self.clock.monotonic() - began)))
