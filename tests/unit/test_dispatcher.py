"""The dispatcher's decisions on one claimed delivery, with a FakeClock, a scripted adapter and
a throwaway SQLite file: no sockets, no sleeps. What each outcome leaves in the store (state,
due time, attempt, event, the next tier) is what is checked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from channels.base import Limits, PermanentError, Post, RateLimitedError, Receipt, TransientError
from failover.clock import FakeClock
from failover.config import Config, parse_config
from failover.dispatcher import Dispatcher
from failover.intake import Intake
from failover.live_channels import ChannelSet, LiveChannel
from failover.model import (
    Delivery,
    DeliveryState,
    Message,
    NewMessage,
    Unusable,
    UnusableKind,
)
from failover.runtime import Runtime
from failover.store.base import NewDelivery
from failover.store.sqlite import SqliteStore

CONFIG = """
state_dir = "state"

[channels.a]
type = "webhook"
url = "http://127.0.0.1:9/a"
retry = { max_attempts = 3, initial = "10s", max_backoff = "1m", jitter = "0s" }

[channels.b]
type = "webhook"
url = "http://127.0.0.1:9/b"

[routes.default]
tiers = [["a"], ["b"]]
escalate_after = "off"

[routes.escalating]
tiers = [["a"], ["b"]]
escalate_after = "20s"

[routes.alone]
tiers = [["a"]]

[routes.strict]
tiers = [["a"], ["b"]]
lateness = "1m"
late = "miss"
"""


@dataclass
class Scripted:
    """An adapter that answers from a script: a Receipt, or an error to raise."""

    script: list[Receipt | Exception] = field(default_factory=list)
    sent: list[Post] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)

    async def send(self, post: Post) -> Receipt:
        self.sent.append(post)
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass
class World:
    store: SqliteStore
    clock: FakeClock
    config: Config
    a: Scripted
    health: dict[str, Unusable]
    dispatcher: Dispatcher

    async def claimed(self, route: str = "default", **new: object) -> tuple[Delivery, Message]:
        """A new message on ``route``, its first delivery (on ``a``) claimed by us."""
        now = self.clock.now()
        message, _, _ = await self.store.create_message(
            NewMessage(text="hello", route=route, created_by="test", **new),  # type: ignore[arg-type]
            [NewDelivery("a", 0, DeliveryState.PENDING, now)],
            [],
            now,
        )
        return await self.claim_again(message.id)

    async def claim_again(self, message_id: int) -> tuple[Delivery, Message]:
        now = self.clock.now()
        [(delivery, message)] = await self.store.claim(
            "a", now, "me", now + timedelta(minutes=1), 1
        )
        assert message.id == message_id
        return delivery, message

    async def on(self, message_id: int) -> dict[str, Delivery]:
        return {d.channel: d for d in await self.store.deliveries(message_id)}

    async def kinds(self, message_id: int) -> list[str]:
        return sorted(e.kind for e in await self.store.events(message_id=message_id))


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    config = parse_config(CONFIG, source=tmp_path / "failover.toml", env={})
    a = Scripted()
    channels = ChannelSet({"a": LiveChannel(config.channels["a"], a),
                           "b": LiveChannel(config.channels["b"], Scripted())})  # type: ignore[arg-type]  # fmt: skip
    store = SqliteStore(tmp_path / "db")
    await store.open()
    clock = FakeClock()
    health: dict[str, Unusable] = {}
    runtime = Runtime(
        config, channels, Intake(store, clock, config, channels, tmp_path, health.get)
    )
    dispatcher = Dispatcher(
        store=store, clock=clock, owner="me", runtime=lambda: runtime,
        media_dir=tmp_path, unusable=health.get,
    )  # fmt: skip
    try:
        yield World(store, clock, config, a, health, dispatcher)
    finally:
        await store.close()


DOWN = Unusable(UnusableKind.DOWN, "down since 2026-01-01T00:00:00+00:00: probe failed")


async def test_a_sent_post_is_recorded_delivered_with_its_attempt_and_event(world: World) -> None:
    world.a.script = [Receipt(remote_id="r1", url="https://a.example/r1")]
    d, m = await world.claimed()
    done = await world.dispatcher.dispatch(d, m)
    assert done is not None and done.state is DeliveryState.DELIVERED
    assert done.url == "https://a.example/r1" and done.attempts == 1
    [attempt] = await world.store.attempts(d.id)
    assert attempt.outcome == "delivered" and attempt.claimed_by == "me"
    assert await world.kinds(m.id) == ["delivery.delivered"]
    assert [p.text for p in world.a.sent] == ["hello"]


async def test_a_transient_error_is_retried_later_on_the_same_channel(world: World) -> None:
    world.a.script = [TransientError("503 from a", status=503)]
    d, m = await world.claimed()
    done = await world.dispatcher.dispatch(d, m)
    assert done is not None and done.state is DeliveryState.PENDING
    assert done.due_at == world.clock.now() + timedelta(seconds=10)  # initial backoff, no jitter
    assert done.last_error == "503 from a" and done.attempts == 1
    assert list(await world.on(m.id)) == ["a"]  # nothing handed on
    assert await world.kinds(m.id) == []  # a retry is an attempt, not an event


async def test_a_rate_limit_waits_at_least_what_the_platform_asked(world: World) -> None:
    world.a.script = [RateLimitedError("429", retry_after=45)]
    d, m = await world.claimed()
    done = await world.dispatcher.dispatch(d, m)
    assert done is not None and done.due_at == world.clock.now() + timedelta(seconds=45)
    assert world.dispatcher.pacer.allowance("a", world.clock.now(), 0) == 0


async def test_a_spent_budget_is_dead_here_and_the_next_tier_takes_over(world: World) -> None:
    d, m = await world.claimed()
    for _ in range(3):
        world.a.script = [TransientError("503")]
        done = await world.dispatcher.dispatch(d, m)
        assert done is not None
        world.clock.advance(60)
        if done.state is DeliveryState.PENDING:
            d, m = await world.claim_again(m.id)
    assert done.state is DeliveryState.DEAD and done.attempts == 3
    assert "retry budget spent: 3 attempts" in (done.last_error or "")
    on = await world.on(m.id)
    assert on["b"].state is DeliveryState.PENDING and on["b"].tier == 1
    assert await world.kinds(m.id) == ["delivery.dead", "message.rerouted"]


async def test_a_retry_past_the_escalation_deadline_hands_the_message_on_too(
    world: World,
) -> None:
    d, m = await world.claimed(route="escalating")
    world.a.script = [TransientError("503")]
    first = await world.dispatcher.dispatch(d, m)  # retry in 10 s: before the 20 s deadline
    assert first is not None and first.state is DeliveryState.PENDING
    assert list(await world.on(m.id)) == ["a"]
    world.clock.advance(10)
    d, m = await world.claim_again(m.id)
    world.a.script = [TransientError("503")]
    second = await world.dispatcher.dispatch(d, m)  # retry in 20 s: past the deadline
    assert second is not None and second.state is DeliveryState.PENDING  # a goes on
    assert (await world.on(m.id))["b"].state is DeliveryState.PENDING  # and b gets it too
    assert await world.kinds(m.id) == ["message.escalated"]


async def test_a_permanent_error_fails_at_once_and_reroutes(world: World) -> None:
    world.a.script = [PermanentError("401 bad token", status=401)]
    d, m = await world.claimed()
    done = await world.dispatcher.dispatch(d, m)
    assert done is not None and done.state is DeliveryState.FAILED and done.attempts == 1
    assert (await world.on(m.id))["b"].state is DeliveryState.PENDING
    assert await world.kinds(m.id) == ["delivery.failed", "message.rerouted"]


async def test_a_channel_that_went_down_is_left_for_the_next_tier_uncertain(world: World) -> None:
    world.health["a"] = DOWN  # went down while the attempt ran
    world.a.script = [TransientError("no answer", maybe_delivered=True)]
    d, m = await world.claimed()
    done = await world.dispatcher.dispatch(d, m)
    assert done is not None and done.state is DeliveryState.SKIPPED and done.uncertain
    # The note starts with "down": failback finds it (skipped_since) and reconciles it.
    assert (done.last_error or "").startswith("down since")
    assert (await world.on(m.id))["b"].state is DeliveryState.PENDING
    assert await world.kinds(m.id) == ["delivery.skipped", "message.rerouted"]


async def test_a_down_channel_with_no_tier_left_waits_instead_of_dying(world: World) -> None:
    world.health["a"] = DOWN
    d, m = await world.claimed(route="alone")
    for _ in range(3):
        world.a.script = [TransientError("503")]
        done = await world.dispatcher.dispatch(d, m)
        assert done is not None and done.state is DeliveryState.PENDING
        world.clock.advance(60)
        d, m = await world.claim_again(m.id)
    assert done.attempts == 3 and done.due_at == world.clock.now() - timedelta(seconds=60)
    assert await world.kinds(m.id) == []


async def test_a_channel_without_credentials_fails_without_a_call(world: World) -> None:
    live = world.dispatcher.channels.get("a")
    assert live is not None
    live.adapter, live.problem = None, "missing secrets: A_TOKEN"
    world.health["a"] = Unusable(UnusableKind.NO_CREDENTIALS, "missing secrets: A_TOKEN")
    d, m = await world.claimed()
    done = await world.dispatcher.dispatch(d, m)
    assert done is not None and done.state is DeliveryState.FAILED
    assert "no_credentials" in (done.last_error or "") and "A_TOKEN" in (done.last_error or "")
    assert world.a.sent == []
    assert (await world.on(m.id))["b"].state is DeliveryState.PENDING


async def test_cancelled_expired_and_missed_messages_are_not_sent(world: World) -> None:
    now = world.clock.now()
    both = [NewDelivery(c, 0, DeliveryState.PENDING, now) for c in ("a", "b")]
    new = NewMessage(text="hello", route="default", created_by="test")
    m, _, _ = await world.store.create_message(new, both, [], now)
    d, _m = await world.claim_again(m.id)
    await world.store.cancel_message(m.id, "test", now)  # b was pending: cancelled with it
    done = await world.dispatcher.dispatch(d)  # read afresh: cancelled since the claim
    assert done is not None and done.state is DeliveryState.CANCELLED

    soon = world.clock.now() + timedelta(seconds=30)
    d, m = await world.claimed(expires_at=soon)
    world.clock.advance(31)
    done = await world.dispatcher.dispatch(d, m)
    assert done is not None and done.state is DeliveryState.EXPIRED

    d, m = await world.claimed(route="strict")
    world.clock.advance(120)  # found two minutes late; the route allows one
    done = await world.dispatcher.dispatch(d, m)
    assert done is not None and done.state is DeliveryState.MISSED
    assert "found 120s late" in (done.last_error or "")
    assert world.a.sent == []
