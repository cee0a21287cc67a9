"""Claim epochs, renewal and fencing, on both stores: a daemon that lost a claim (even to
itself) cannot record over the new one, a renewed claim is not taken over, and a daemon
does not start a send on a claim the store no longer confirms."""

from __future__ import annotations

from datetime import timedelta

from failover.claims import Claims
from failover.clock import FakeClock
from failover.model import DeliveryState
from failover.store.base import Outcome, Store
from tests.integration.test_store import T0, msg, pending, store

__all__ = ["store"]  # the shared two-backend fixture

LEASE = 60.0


def delivered() -> Outcome:
    return Outcome(DeliveryState.DELIVERED, T0, T0, T0, "delivered", remote_id="1")


async def test_every_claim_has_a_new_epoch_and_writes_are_fenced_on_it(store: Store) -> None:
    await store.create_message(msg(), [pending("a")], [], T0)
    [first] = await store.claim_due("a", T0, "me", T0 + timedelta(seconds=LEASE), 1)
    later = T0 + timedelta(seconds=LEASE + 1)
    # The same daemon takes the lapsed delivery again: same owner, a new claim.
    [second] = await store.claim_due("a", later, "me", later + timedelta(seconds=LEASE), 1)
    assert (first.claim_epoch, second.claim_epoch) == (1, 2) and second.uncertain
    assert not await store.save_progress(first.id, "me", {"x": 1}, {}, later, epoch=1)
    assert await store.finish(first.id, "me", delivered(), [], later, epoch=1) is None
    assert await store.save_progress(first.id, "me", {"x": 1}, {}, later, epoch=2)
    done = await store.finish(first.id, "me", delivered(), [], later, epoch=2)
    assert done is not None and done.state is DeliveryState.DELIVERED
    [attempt] = await store.attempts(first.id)
    assert (attempt.claimed_by, attempt.claim_epoch) == ("me", 2)


async def test_a_renewed_claim_is_not_taken_over_and_a_lost_one_is_not_renewed(
    store: Store,
) -> None:
    await store.create_message(msg(), [pending("a"), pending("a", tier=1)], [], T0)
    await store.create_message(msg("two"), [pending("a")], [], T0)
    mine = await store.claim_due("a", T0, "me", T0 + timedelta(seconds=LEASE), 2)
    kept, dropped = mine
    renewed_until = T0 + timedelta(seconds=2 * LEASE)
    got = await store.renew_claims("me", [(kept.id, kept.claim_epoch)], renewed_until)
    assert got == {(kept.id, kept.claim_epoch)}
    later = T0 + timedelta(seconds=LEASE + 1)
    taken = await store.claim_due("a", later, "other", later + timedelta(seconds=LEASE), 10)
    assert [d.id for d in taken] == [dropped.id]  # the renewed one stayed ours
    both = [(kept.id, kept.claim_epoch), (dropped.id, dropped.claim_epoch)]
    assert await store.renew_claims("me", both, later) == {(kept.id, kept.claim_epoch)}
    assert await store.renew_claims("other", [(dropped.id, dropped.claim_epoch)], later) == set()


async def test_claims_confirm_renews_late_and_refuses_a_lost_claim(store: Store) -> None:
    clock = FakeClock(T0)
    claims = Claims(store, clock, owner="me", lease=lambda: LEASE)
    await store.create_message(msg(), [pending("a")], [], T0)
    at = clock.monotonic()
    [d] = await store.claim_due("a", clock.now(), "me", clock.now() + timedelta(seconds=LEASE), 1)
    claims.hold(d, at)
    assert claims.needed(5.0) == 5.0 + LEASE / 8
    assert await claims.confirm(d, 5.0) and claims.renewals == 0  # fresh: no statement
    clock.advance(LEASE - claims.needed(5.0) + 1)  # too little lease left for a send
    assert await claims.confirm(d, 5.0) and claims.renewals == 1  # renewed on the spot
    [row] = await store.deliveries(d.message_id)
    assert row.claim_expires_at == clock.now() + timedelta(seconds=LEASE)
    # Starved past the renewed lease: another daemon takes the delivery over.
    clock.advance(LEASE + 1)
    await store.claim_due("a", clock.now(), "other", clock.now() + timedelta(seconds=LEASE), 1)
    assert not await claims.confirm(d, 5.0)  # the renewal finds it gone: do not send
    assert claims.lost == 1
    assert await store.finish(d.id, "me", delivered(), [], clock.now(), epoch=1) is None
    claims.drop(d)
    assert not await claims.confirm(d, 5.0)
