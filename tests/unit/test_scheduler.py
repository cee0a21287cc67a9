"""The scheduler's wake-ups, on a memory store and a hand-moved clock: after each pass it
waits exactly until the next thing is due (a scheduled post, a lapsed claim, an expiry),
never longer than its safety cap, never a busy loop; and a new post or a finished send wakes
it at once. No sockets, no sleeping: a stand-in dispatcher records what it is handed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from failover import scheduler as scheduler_module
from failover.clock import FakeClock
from failover.model import Delivery, DeliveryState, Message, NewMessage
from failover.pacing import Pacer
from failover.scheduler import MAX_IDLE_WAIT, SATURATED_WAIT, Scheduler
from failover.store.base import NewDelivery, QueueFront
from failover.store.sqlite import SqliteStore
from tests.unit.conftest import T0

ME, OTHER = "node-a", "node-b"


class StandInDispatcher:
    """Takes the dispatcher's place: queues every delivery it is handed, and holds each send
    open until the test opens ``gate``."""

    def __init__(self) -> None:
        self.fence: Any = None  # the scheduler installs its claim check here
        self.handed: asyncio.Queue[Delivery] = asyncio.Queue()
        self.gate = asyncio.Event()
        self.gate.set()

    async def dispatch(self, delivery: Delivery, _message: Message | None = None) -> Delivery:
        self.handed.put_nowait(delivery)
        await self.gate.wait()
        return delivery

    async def next(self) -> Delivery:
        """The next delivery handed over; fails the test if none comes (nothing is timed)."""
        return await asyncio.wait_for(self.handed.get(), 10)


@pytest.fixture
def dispatcher() -> StandInDispatcher:
    return StandInDispatcher()


Make = Callable[..., Scheduler]


@pytest.fixture
async def make(
    store: SqliteStore, dispatcher: StandInDispatcher, clock: FakeClock
) -> AsyncIterator[Make]:
    """Builds schedulers on the memory store, with their loop running if ``run``; each is
    stopped after the test (its sends let finish first)."""
    made: list[Scheduler] = []
    loops: list[asyncio.Task[None]] = []

    def build(
        *,
        concurrency: int = 4,
        claimable: Callable[[str], bool] = lambda _channel: True,
        run: bool = False,
    ) -> Scheduler:
        pacer = Pacer()
        pacer.unmetered("hook")  # no rate-limit budget: only concurrency limits the channel
        sched = Scheduler(
            store, dispatcher, clock, owner=ME, lease=lambda: 60.0,  # type: ignore[arg-type]
            concurrency=lambda _channel: concurrency, claimable=claimable, pacer=pacer,
        )  # fmt: skip
        made.append(sched)
        if run:  # its waits are real: only wake-ups can move it within a test
            loops.append(asyncio.create_task(sched.run()))
        return sched

    yield build
    dispatcher.gate.set()
    for sched in made:
        await sched.stop(grace=5)
    await asyncio.wait_for(asyncio.gather(*loops), 10)


def passes(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> asyncio.Queue[None]:
    """One item per scheduler pass over an empty queue that has ended (each reads the head
    of the queue, and with nothing due ends without another await), so a test knows the loop
    is idle without looking inside it."""
    ended: asyncio.Queue[None] = asyncio.Queue()
    asked = store.queue_front

    async def queue_front(now: datetime, owner: str, cap: int) -> QueueFront:
        try:
            return await asked(now, owner, cap)
        finally:
            ended.put_nowait(None)

    monkeypatch.setattr(store, "queue_front", queue_front)
    return ended


async def post(
    store: SqliteStore, due: datetime, *, expires: datetime | None = None, text: str = "hi"
) -> Delivery:
    new = NewMessage(text=text, route="default", created_by="test", expires_at=expires)
    message, _, _ = await store.create_message(
        new, [NewDelivery("hook", 0, DeliveryState.PENDING, due)], [], T0
    )
    [delivery] = await store.deliveries(message.id)
    return delivery


async def test_an_empty_queue_waits_only_the_safety_cap(
    store: SqliteStore, dispatcher: StandInDispatcher, clock: FakeClock, make: Make
) -> None:
    sched = make()
    assert await sched._pass() == MAX_IDLE_WAIT
    assert sched.inflight == 0


async def test_it_wakes_exactly_when_a_scheduled_post_is_due(
    store: SqliteStore, dispatcher: StandInDispatcher, clock: FakeClock, make: Make
) -> None:
    sched = make()
    queued = await post(store, T0 + timedelta(seconds=20))
    assert await sched._pass() == 20.0
    assert sched.inflight == 0  # not before its time
    clock.advance(12.5)
    assert await sched._pass() == 7.5
    clock.advance(7.5)
    await sched._pass()
    handed = await dispatcher.next()
    assert handed.id == queued.id and handed.state is DeliveryState.SENDING
    assert handed.claimed_by == ME


async def test_a_post_far_ahead_is_waited_for_in_capped_steps(
    store: SqliteStore, dispatcher: StandInDispatcher, clock: FakeClock, make: Make
) -> None:
    sched = make()
    await post(store, T0 + timedelta(days=1))
    assert await sched._pass() == MAX_IDLE_WAIT
    clock.advance(timedelta(days=1).total_seconds() - 3)
    assert await sched._pass() == 3.0


async def test_another_daemons_claim_wakes_it_when_the_lease_lapses(
    store: SqliteStore, dispatcher: StandInDispatcher, clock: FakeClock, make: Make
) -> None:
    queued = await post(store, T0)
    [taken] = await store.claim_due("hook", T0, OTHER, T0 + timedelta(seconds=25), 1)
    sched = make()
    assert await sched._pass() == 25.0  # the other daemon's send is not ours to retry yet
    assert sched.inflight == 0
    clock.advance(25)
    await sched._pass()
    handed = await dispatcher.next()
    assert handed.id == queued.id == taken.id
    assert handed.claimed_by == ME and handed.uncertain  # it may have been sent: reconcile
    assert handed.claim_epoch == taken.claim_epoch + 1


async def test_an_expiry_wakes_it_and_the_post_is_never_sent(
    store: SqliteStore, dispatcher: StandInDispatcher, clock: FakeClock, make: Make
) -> None:
    queued = await post(store, T0 + timedelta(seconds=100), expires=T0 + timedelta(seconds=25))
    sched = make()
    assert await sched._pass() == 25.0  # the expiry comes before the send
    clock.advance(25)
    assert await sched._pass() == MAX_IDLE_WAIT  # nothing left to wait for
    assert sched.inflight == 0 and dispatcher.handed.empty()
    expired = await store.delivery(queued.id)
    assert expired is not None and expired.state is DeliveryState.EXPIRED


async def test_work_on_a_held_back_channel_waits_for_a_wake_not_a_busy_loop(
    store: SqliteStore, dispatcher: StandInDispatcher, clock: FakeClock, make: Make
) -> None:
    await post(store, T0)
    sched = make(claimable=lambda _channel: False)
    assert await sched._pass() == SATURATED_WAIT
    assert sched.inflight == 0


async def test_a_full_channel_claims_only_what_it_can_start(
    store: SqliteStore, dispatcher: StandInDispatcher, clock: FakeClock, make: Make
) -> None:
    for i in range(3):
        await post(store, T0, text=f"post {i}")
    dispatcher.gate.clear()
    sched = make(concurrency=2)
    assert await sched._pass() == SATURATED_WAIT  # due work left, waiting for a free slot
    assert sched.inflight == 2
    assert await store.due_channels(clock.now()) == {"hook": 1}  # the third is not claimed


async def test_a_new_post_is_sent_as_soon_as_the_scheduler_is_woken(
    store: SqliteStore, dispatcher: StandInDispatcher, make: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    ended = passes(store, monkeypatch)
    running = make(run=True)
    await asyncio.wait_for(ended.get(), 10)
    # The loop now waits MAX_IDLE_WAIT (30 s): only the wake can start a pass in time.
    queued = await post(store, T0)
    running.wake()
    assert (await dispatcher.next()).id == queued.id


async def test_a_finished_send_wakes_the_scheduler_for_the_next_one(
    store: SqliteStore, dispatcher: StandInDispatcher, make: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A slot awaited for minutes: only the finished send's wake can start the second in time.
    monkeypatch.setattr(scheduler_module, "SATURATED_WAIT", 600.0)
    first, second = await post(store, T0, text="one"), await post(store, T0, text="two")
    dispatcher.gate.clear()
    running = make(concurrency=1, run=True)
    assert (await dispatcher.next()).id == first.id
    assert running.inflight == 1 and dispatcher.handed.empty()  # the second waits its turn
    dispatcher.gate.set()
    assert (await dispatcher.next()).id == second.id


async def test_stop_releases_what_was_claimed_but_not_finished(
    store: SqliteStore, dispatcher: StandInDispatcher, clock: FakeClock, make: Make
) -> None:
    queued = await post(store, T0)
    sched = make()
    dispatcher.gate.clear()
    await sched._pass()
    await dispatcher.next()
    assert await sched.stop(grace=0) == 1  # the send is cut short, its claim handed back
    released = await store.delivery(queued.id)
    assert released is not None and released.state is DeliveryState.PENDING
    assert released.uncertain and released.claimed_by is None
