"""Routing: first usable tier in failover mode, next tier on loss, everything in broadcast."""

from __future__ import annotations

from datetime import UTC, datetime

from failover.config import RouteConfig
from failover.model import Delivery, DeliveryState, Unusable, UnusableKind
from failover.router import next_tier, plan

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ROUTE = RouteConfig(tiers=[["x"], ["mastodon", "bluesky"], ["status"]])


def usable(*down: str):  # type: ignore[no-untyped-def]
    return lambda name: Unusable(UnusableKind.DOWN, "down") if name in down else None


def summary(planned):  # type: ignore[no-untyped-def]
    return [(d.channel, d.tier, d.state.value) for d in planned]


def delivery(channel: str, tier: int, state: DeliveryState) -> Delivery:
    return Delivery(id=1, message_id=1, channel=channel, tier=tier, state=state, due_at=NOW)


def test_healthy_primary_takes_it_alone() -> None:
    assert summary(plan(ROUTE, NOW, usable())) == [("x", 0, "pending")]


def test_down_primary_goes_to_next_tier_and_records_the_skip() -> None:
    assert summary(plan(ROUTE, NOW, usable("x"))) == [
        ("x", 0, "skipped"),
        ("mastodon", 1, "pending"),
        ("bluesky", 1, "pending"),
    ]


def test_partly_down_tier_also_engages_the_next() -> None:
    assert summary(plan(ROUTE, NOW, usable("x", "bluesky"))) == [
        ("x", 0, "skipped"),
        ("mastodon", 1, "pending"),
        ("bluesky", 1, "skipped"),
        ("status", 2, "pending"),
    ]


def test_everything_down_waits_on_the_first_tier() -> None:
    planned = plan(ROUTE, NOW, usable("x", "mastodon", "bluesky", "status"))
    assert summary(planned) == [("x", 0, "pending")]


def test_broadcast_goes_everywhere_and_waits_for_down_channels() -> None:
    route = RouteConfig(mode="broadcast", tiers=[["x", "mastodon"], ["status"]])
    assert summary(plan(route, NOW, usable("mastodon"))) == [
        ("x", 0, "pending"),
        ("mastodon", 0, "pending"),  # only down: it gets the message when it is back
        ("status", 1, "pending"),
    ]
    why = Unusable(UnusableKind.NO_CREDENTIALS, "missing secrets")
    missing = lambda name: why if name == "mastodon" else None  # noqa: E731
    assert summary(plan(route, NOW, missing))[1] == ("mastodon", 0, "skipped")


def test_loss_reroutes_to_the_next_tier_once() -> None:
    lost = delivery("x", 0, DeliveryState.DEAD)
    assert summary(next_tier(ROUTE, [lost], lost, NOW, usable())) == [
        ("mastodon", 1, "pending"),
        ("bluesky", 1, "pending"),
    ]
    engaged = [lost, delivery("mastodon", 1, DeliveryState.PENDING)]
    assert next_tier(ROUTE, engaged, lost, NOW, usable()) == []
    last = delivery("status", 2, DeliveryState.FAILED)
    assert next_tier(ROUTE, [last], last, NOW, usable()) == []
    broadcast = RouteConfig(mode="broadcast", tiers=[["x"], ["status"]])
    assert next_tier(broadcast, [lost], lost, NOW, usable()) == []
