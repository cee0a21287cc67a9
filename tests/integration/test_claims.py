"""Claim epochs, renewal and fencing, on both stores: a daemon that lost a claim (even to
itself) cannot record over the new one, a renewed claim is not taken over, and a daemon
does not start a send on a claim the store no longer confirms."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from failover.claims import Claims
from failover.clock import FakeClock, SystemClock
from failover.model import Delivery, DeliveryState, Message
from failover.scheduler import Scheduler
from failover.store.base import Outcome, Store
from failover.store.sqlite import SqliteStore
from tests.harness import free_port, start_daemon
from tests.integration.test_store import T0, msg, pending, store
from tests.peers.faults import Fault
from tests.peers.webhook_receiver import WebhookReceiver

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


async def test_a_daemon_stops_sending_a_thread_whose_claim_was_taken_over(tmp_path: Path) -> None:
    """A two-part post: while part 1 is on the wire another daemon takes the delivery over.
    The renewal finds the claim gone, so part 2 is not sent, and the store keeps a
    ``delivery.fenced`` event for that claim."""
    async with WebhookReceiver() as hook:
        hook.server.set_fault(Fault.SLOW, delay=1.5)
        port = free_port()
        path = tmp_path / "failover.toml"
        path.write_text(
            f"""
            state_dir = "{tmp_path / "state"}"
            claim_lease = "2s"
            [api]
            listen = "127.0.0.1:{port}"
            [channels.hook]
            type = "webhook"
            url = "{hook.server.url}/hook"
            max_text = 40
            [routes.default]
            tiers = [["hook"]]
            """.replace("\n            ", "\n")
        )
        h = await start_daemon(path)
        store = h.daemon.store
        try:
            m = await h.post(text="word " * 12)  # 60 characters: two parts of at most 40
            deadline = time.monotonic() + 10
            while not (ds := await store.deliveries(m["id"])) or ds[0].state.value != "sending":
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            [mine] = ds
            later = h.daemon.clock.now() + timedelta(seconds=10)  # as if the lease had lapsed
            [taken] = await store.claim_due("hook", later, "other", later, 1)
            assert taken.claim_epoch == mine.claim_epoch + 1
            deadline = time.monotonic() + 10
            while not (fenced := await store.events(message_id=m["id"])) or not any(
                e.kind == "delivery.fenced" for e in fenced
            ):
                assert time.monotonic() < deadline, "the daemon never noticed"
                await asyncio.sleep(0.05)
            await asyncio.sleep(2)  # part 2 would have reached the receiver by now
        finally:
            await h.daemon.stop()
    [event] = [e for e in fenced if e.kind == "delivery.fenced"]
    assert event.detail["claim_epoch"] == mine.claim_epoch
    assert event.detail["what"] == "not sent"
    assert [r.body["part"] for r in hook.received] == [1]
    assert hook.received[0].headers["Failover-Claim"].endswith(f" {mine.id}/{mine.claim_epoch}")


class _Sender:
    """Stands in for the dispatcher: 'sends' for a moment, then records the outcome."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.fence = None
        self.recorded: list[object] = []

    async def dispatch(self, d: Delivery, _message: Message | None = None) -> Delivery | None:
        await asyncio.sleep(0.2)
        done = await self.store.finish(d.id, "me", delivered(), [], T0, epoch=d.claim_epoch)
        self.recorded.append(done)
        return done


async def test_a_clean_stop_waits_for_the_sends_a_pass_under_way_claims(tmp_path: Path) -> None:
    """SIGTERM lands while a pass has claimed but not yet started its sends: the stop must
    count those sends as in flight, not release their claims under them (the next daemon
    would send them again)."""
    store = SqliteStore(tmp_path / "db", exclusive=True)
    await store.open()
    try:
        m, _, _ = await store.create_message(msg(), [pending("a")], [], T0)
        gate = asyncio.Event()
        claim = store.claim

        async def claim_then_wait(*args: Any) -> list[tuple[Delivery, Message]]:
            got = await claim(*args)
            await gate.wait()  # committed, not yet started
            return got

        store.claim = claim_then_wait  # type: ignore[method-assign]
        sender = _Sender(store)
        scheduler = Scheduler(
            store, sender, SystemClock(), owner="me", lease=lambda: LEASE, concurrency=lambda _c: 4
        )  # type: ignore[arg-type]
        runner = asyncio.create_task(scheduler.run())
        while (await store.deliveries(m.id))[0].state is not DeliveryState.SENDING:
            await asyncio.sleep(0.01)
        stopping = asyncio.create_task(scheduler.stop(grace=5))
        await asyncio.sleep(0.1)
        gate.set()
        assert await stopping == 0  # nothing released
        await runner
        [d] = await store.deliveries(m.id)
        assert d.state is DeliveryState.DELIVERED and sender.recorded == [d]
    finally:
        await store.close()
