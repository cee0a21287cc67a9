"""Reactions to health changes and send gating, driven by hand: a FakeClock, a SQLite store in
a temporary directory and adapters that are built but never opened. No sockets, no sleeps:
each test sets a channel's health and checks what the reactions wrote to the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channels.base import ChannelContext
from channels.registry import adapter_class
from failover.clock import FakeClock
from failover.config import Config, parse_config
from failover.dispatcher import Dispatcher
from failover.health.announce import Announcer
from failover.health.board import HealthBoard
from failover.health.machine import HealthMachine, Observation, Transition
from failover.health.reactions import Reactions
from failover.intake import Intake
from failover.live_channels import ChannelSet, LiveChannel
from failover.model import ChannelState, DeliveryState, Forced, Health, Message, UnusableKind
from failover.runtime import Runtime
from failover.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

CONFIG = """
state_dir = "{state}"

[channels.x]
type = "webhook"
url = "http://127.0.0.1:9/never-contacted"
display_name = "Chirp"
concurrency = 4

[channels.x.health]
down_after = 3
up_after = 2
cooldown = "30s"

[channels.backup]
type = "webhook"
url = "http://127.0.0.1:9/never-contacted-either"

[channels.offline]
type = "webhook"
url = "http://127.0.0.1:9/off"
enabled = false

[routes.default]
tiers = [["x"], ["backup"]]
failback = "backfill"
failback_spacing = "10s"

[routes.default.announce]
down = "We cannot reach {{channel}} right now."

[routes.everywhere]
mode = "broadcast"
tiers = [["x", "backup"]]
"""


@dataclass
class Core:
    clock: FakeClock
    store: SqliteStore
    board: HealthBoard
    runtime: Runtime
    reactions: Reactions
    wakes: list[int]

    async def post(self, text: str, route: str = "default") -> Message:
        message, _, _ = await self.runtime.intake.submit({"text": text, "route": route}, actor="t")
        return message

    async def states(self, message: Message) -> dict[str, DeliveryState]:
        return {d.channel: d.state for d in await self.store.deliveries(message.id)}

    async def go(
        self, channel: str, health: Health, reason: str, forced: Forced = Forced.AUTO
    ) -> None:
        """``channel``'s health changes now, as the monitor would report it."""
        before = self.board.states.get(channel, ChannelState(channel, Health.UP))
        after = ChannelState(channel, health, forced, self.clock.now(), reason)
        self.board.states[channel] = after
        t = Transition(before.effective, health, reason, self.clock.now())
        await self.reactions.on_change(channel, before, after, t)


def _channels(config: Config, tmp: Path) -> ChannelSet:
    """Real adapter objects, never opened: nothing here talks to a network."""
    live: dict[str, LiveChannel] = {}
    for name, ch in config.channels.items():
        if not ch.enabled:
            live[name] = LiveChannel(ch, None, "disabled in the config")
            continue
        context = ChannelContext(name=name, state_dir=tmp / name)
        live[name] = LiveChannel(ch, adapter_class(ch.type)(context, ch.options))  # type: ignore[call-arg]
    return ChannelSet(live)


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    config = parse_config(CONFIG.format(state=tmp_path / "state"), env={})
    clock = FakeClock(T0)
    store = SqliteStore(tmp_path / "failover.db", exclusive=True)
    await store.open()
    channels = _channels(config, tmp_path)
    holder: list[Runtime] = []
    board = HealthBoard(clock, lambda: holder[0])
    wakes: list[int] = []
    intake = Intake(store, clock, config, channels, tmp_path / "media", board.unusable)
    holder.append(Runtime(config, channels, intake))
    dispatcher = Dispatcher(
        store, clock, "me", lambda: holder[0], tmp_path / "media", unusable=board.unusable
    )
    announcer = Announcer(store, clock, lambda: holder[0], {})
    reactions = Reactions(
        store, clock, lambda: holder[0], board, dispatcher, announcer, lambda: wakes.append(1)
    )
    try:
        yield Core(clock, store, board, holder[0], reactions, wakes)
    finally:
        await store.close()


# -- down: reroute -------------------------------------------------------------------------------


async def test_down_moves_pending_deliveries_to_the_next_tier_at_the_clocks_time(
    core: Core,
) -> None:
    m = await core.post("checkout is slow")
    core.clock.advance(5)
    await core.go("x", Health.DOWN, "3 failures in a row")
    assert await core.states(m) == {"x": DeliveryState.SKIPPED, "backup": DeliveryState.PENDING}
    [x] = [d for d in await core.store.deliveries(m.id) if d.channel == "x"]
    assert x.last_error == "down: 3 failures in a row"
    [skipped] = [
        e for e in await core.store.events(message_id=m.id) if e.kind == "delivery.skipped"
    ]
    assert skipped.at == T0 + timedelta(seconds=5)  # the injected clock, not the wall's
    assert core.wakes  # the scheduler is told: the backup delivery is due now


async def test_down_with_no_usable_tier_left_waits_instead_of_giving_up(core: Core) -> None:
    await core.go("backup", Health.DOWN, "refused")
    m = await core.post("nowhere to go")
    await core.go("x", Health.DOWN, "3 failures in a row")
    assert await core.states(m) == {"x": DeliveryState.PENDING}


async def test_down_leaves_broadcast_deliveries_waiting_for_their_channel(core: Core) -> None:
    m = await core.post("to everyone", route="everywhere")
    await core.go("x", Health.DOWN, "3 failures in a row")
    assert await core.states(m) == {"x": DeliveryState.PENDING, "backup": DeliveryState.PENDING}


async def test_the_outage_is_announced_once_even_when_it_flaps(core: Core) -> None:
    await core.go("x", Health.DOWN, "3 failures in a row")
    core.clock.advance(60)
    await core.go("x", Health.UP, "recovered; on probation")
    await core.go("x", Health.DOWN, "failed again on probation")
    announced = [e for e in await core.store.events(channel="x") if e.kind == "announce.down"]
    assert len(announced) == 1
    message = await core.store.message(announced[0].message_id or 0)
    assert message is not None  # the display name, never the config key:
    assert message.text == "We cannot reach Chirp right now."
    assert message.created_by == "failover:announce"


# -- up on probation: failback -------------------------------------------------------------------


async def test_up_on_probation_backfills_what_the_primary_missed_spaced_apart(core: Core) -> None:
    await core.go("x", Health.DOWN, "3 failures in a row")  # posts the outage announcement
    core.clock.advance(10)
    first = await core.post("missed one")
    core.clock.advance(10)
    second = await core.post("missed two")
    assert (await core.states(first))["x"] is DeliveryState.SKIPPED  # x was down at intake
    core.clock.advance(60)
    back = core.clock.now()
    await core.go("x", Health.UP, "recovered (a send succeeded); on probation")
    revived = {
        m.text: d
        for m in (first, second)
        for d in await core.store.deliveries(m.id)
        if d.channel == "x"
    }
    assert {t: d.state for t, d in revived.items()} == {
        "missed one": DeliveryState.PENDING,
        "missed two": DeliveryState.PENDING,
    }
    slots = sorted(d.due_at for d in revived.values())
    assert slots == [back, back + timedelta(seconds=10)]  # failback_spacing apart
    # The outage announcement itself is never posted on the channel that was down.
    [announced] = [e for e in await core.store.events(channel="x") if e.kind == "announce.down"]
    outage = {d.channel: d.state for d in await core.store.deliveries(announced.message_id or 0)}
    assert outage.get("x") is not DeliveryState.PENDING


async def test_an_operator_giving_a_channel_back_up_announces_no_recovery_for_an_unusable_one(
    core: Core,
) -> None:
    await core.go("offline", Health.DOWN, "forced down by alice", Forced.DOWN)
    before = core.board.states["offline"]
    after = replace(before, forced=Forced.UP)
    core.board.states["offline"] = after
    await core.reactions.on_change("offline", before, after, None)
    assert not [e for e in await core.store.events(channel="offline") if e.kind == "announce.up"]


# -- gating --------------------------------------------------------------------------------------


def _down_machine(core: Core) -> HealthMachine:
    machine = HealthMachine(core.runtime.config.channels["x"].health, Health.UP, T0)
    for _ in range(3):
        t = machine.observe(Observation(False, "probe:http", "503"), core.clock.now())
    assert t is not None and t.after is Health.DOWN
    core.board.machines["x"] = machine
    core.board.states["x"] = ChannelState("x", Health.DOWN, since=core.clock.now(), reason="503")
    return machine


async def test_a_down_channel_is_held_back_until_its_cool_down_is_over(core: Core) -> None:
    _down_machine(core)
    held = core.board.may_send("x")
    assert held is not None and held.kind is UnusableKind.COOLING_DOWN
    assert core.board.concurrency("x") == 1
    core.clock.advance(29)
    assert core.board.may_send("x") is not None
    core.clock.advance(1)
    assert core.board.may_send("x") is None  # half-open: one trial goes through
    assert core.board.concurrency("x") == 1  # and only one at a time


async def test_probation_sends_one_at_a_time_until_it_is_passed(core: Core) -> None:
    machine = _down_machine(core)
    core.clock.advance(30)
    up = machine.observe(Observation(True, "send"), core.clock.now())
    assert up is not None and machine.on_probation
    core.board.states["x"] = ChannelState("x", Health.UP, since=core.clock.now())
    assert core.board.may_send("x") is None
    assert core.board.concurrency("x") == 1
    for _ in range(2):
        machine.observe(Observation(True, "send"), core.clock.now())
    assert not machine.on_probation
    assert core.board.concurrency("x") == 4  # the channel's own limit again


async def test_forced_down_waits_for_the_operator_and_a_follower_for_the_leader(core: Core) -> None:
    _down_machine(core)
    core.clock.advance(3600)
    core.board.states["x"] = replace(core.board.states["x"], forced=Forced.DOWN, forced_by="alice")
    held = core.board.may_send("x")
    assert held is not None and held.kind is UnusableKind.FORCED_DOWN and "alice" in held.reason
    core.board.states["x"] = replace(core.board.states["x"], forced=Forced.AUTO)
    core.board.machines.clear()  # a follower has no machines: the leader decides
    held = core.board.may_send("x")
    assert held is not None and held.kind is UnusableKind.DOWN


async def test_unusable_says_what_kind_of_problem_it_is(core: Core) -> None:
    assert core.board.unusable("x") is None
    missing = core.board.unusable("nope")
    assert missing is not None and missing.kind is UnusableKind.NOT_CONFIGURED
    off = core.board.unusable("offline")
    assert off is not None and off.kind is UnusableKind.DISABLED
    assert off.reason == "disabled in the config"
    core.board.states["x"] = ChannelState("x", Health.DOWN, since=T0, reason="503")
    down = core.board.unusable("x")
    assert down is not None and down.kind is UnusableKind.DOWN
    assert down.reason == f"down since {T0.isoformat()}: 503"  # the text a skipped delivery keeps
