"""Intake on a memory store and a FakeClock: what is accepted is stored with its first
deliveries, and every refusal names the field at fault and stores nothing. The channels are
real webhook adapters, never opened (their declared limits need no network)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from channels.base import ChannelContext
from channels.webhook import WebhookChannel
from failover.clock import FakeClock
from failover.config import ALERTS_ROUTE, Config, parse_config
from failover.errors import Conflict, InvalidInput, NotFound
from failover.intake import MAX_TEXT, Intake
from failover.live_channels import ChannelSet, LiveChannel
from failover.model import DeliveryState, Unusable, UnusableKind
from failover.store.sqlite import SqliteStore
from tests.unit.conftest import T0

CONFIG = """
state_dir = "{state}"

[channels.hook]
type = "webhook"
url = "http://127.0.0.1:9/hook"

[channels.spare]
type = "webhook"
url = "http://127.0.0.1:9/spare"

[channels.short]
type = "webhook"
url = "http://127.0.0.1:9/short"
max_text = 20

[routes.default]
tiers = [["hook"], ["spare"]]

[routes.strict]
tiers = [["short"]]
fit = "reject"

[routes.expiring]
tiers = [["hook"]]
default_expiry = "1h"

[alerts]
channels = ["spare"]
"""

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
NOT_SO = "is not image/png (its bytes say otherwise)"


class Accepted:
    """Counts the ``on_accepted`` calls (the scheduler's wake in the daemon)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


def live_channels(config: Config) -> ChannelSet:
    """Each configured channel with its webhook adapter, constructed but never opened."""
    live = {}
    for name, ch in config.channels.items():
        context = ChannelContext(name=name, state_dir=config.state_dir / name)
        live[name] = LiveChannel(ch, WebhookChannel(context, ch.options))  # type: ignore[arg-type]
    return ChannelSet(live)


@pytest.fixture
def accepted() -> Accepted:
    return Accepted()


@pytest.fixture
def down() -> dict[str, Unusable]:
    """Channel name → why it cannot be used now; tests fill it in."""
    return {}


@pytest.fixture
def intake(
    store: SqliteStore,
    clock: FakeClock,
    tmp_path: Path,
    accepted: Accepted,
    down: dict[str, Unusable],
) -> Intake:
    config = parse_config(CONFIG.format(state=tmp_path / "state"), env={})
    return Intake(
        store=store, clock=clock, config=config, channels=live_channels(config),
        media_dir=tmp_path / "media", unusable=down.get, on_accepted=accepted,
    )  # fmt: skip


Refused = Callable[..., InvalidInput]


@pytest.fixture
def refused(intake: Intake, store: SqliteStore, accepted: Accepted) -> Refused:
    """Submit ``payload``; return the InvalidInput raised, having checked nothing was stored."""

    async def submit(payload: dict[str, Any], **kw: Any) -> InvalidInput:
        with pytest.raises(InvalidInput) as info:
            await intake.submit(payload, "alice", **kw)
        assert await store.messages(limit=5) == [] and accepted.calls == 0
        return info.value

    return submit  # type: ignore[return-value]


# -- accepted -------------------------------------------------------------------------------


async def test_a_valid_message_is_stored_with_its_first_deliveries(
    intake: Intake, store: SqliteStore, accepted: Accepted
) -> None:
    message, created, _ = await intake.submit({"text": "  Service restored  "}, "alice")
    assert created and message.text == "Service restored"  # whitespace stripped
    assert message.route == "default" and message.created_by == "alice"
    [d] = await store.deliveries(message.id)
    assert (d.channel, d.tier, d.state, d.due_at) == ("hook", 0, DeliveryState.PENDING, T0)
    assert accepted.calls == 1  # the scheduler is woken once the message is committed
    [event] = await store.events(message_id=message.id)
    assert event.kind == "message.accepted" and event.detail["channels"] == ["hook"]


async def test_a_scheduled_message_is_due_at_its_time(intake: Intake, store: SqliteStore) -> None:
    at = T0 + timedelta(hours=2)
    message, _, _ = await intake.submit({"text": "later", "scheduled_at": at.isoformat()}, "alice")
    [d] = await store.deliveries(message.id)
    assert message.scheduled_at == at and d.due_at == at


async def test_a_route_default_expiry_applies_from_the_scheduled_time(intake: Intake) -> None:
    at = T0 + timedelta(minutes=10)
    payload = {"text": "x", "route": "expiring", "scheduled_at": at.isoformat()}
    message, _, _ = await intake.submit(payload, "alice")
    assert message.expires_at == at + timedelta(hours=1)


async def test_a_channel_that_cannot_be_used_is_skipped_for_the_next_tier(
    intake: Intake, store: SqliteStore, down: dict[str, Unusable]
) -> None:
    down["hook"] = Unusable(UnusableKind.DISABLED, "disabled in the config")
    message, _, _ = await intake.submit({"text": "x"}, "alice")
    states = {d.channel: d.state for d in await store.deliveries(message.id)}
    assert states == {"hook": DeliveryState.SKIPPED, "spare": DeliveryState.PENDING}


async def test_an_image_is_checked_and_kept_by_its_digest(intake: Intake, tmp_path: Path) -> None:
    image = {"data": base64.b64encode(PNG).decode(), "content_type": "image/png", "alt": "a"}
    message, _, _ = await intake.submit({"text": "x", "images": [image]}, "alice")
    [ref] = message.images
    assert ref.sha256 == hashlib.sha256(PNG).hexdigest() and ref.size == len(PNG)
    assert (tmp_path / "media" / ref.sha256).read_bytes() == PNG


async def test_only_the_daemon_posts_to_an_internal_route(intake: Intake, refused: Refused) -> None:
    error = await refused({"text": "x", "route": ALERTS_ROUTE})
    assert error.field == "route" and "known: default, strict, expiring" in error.detail
    message, created, _ = await intake.submit(
        {"text": "x", "route": ALERTS_ROUTE}, "daemon", internal=True
    )
    assert created and message.route == ALERTS_ROUTE


# -- idempotency ----------------------------------------------------------------------------


async def test_a_repeated_key_replays_the_first_message(
    intake: Intake, store: SqliteStore, accepted: Accepted
) -> None:
    first, created, _ = await intake.submit({"text": "x"}, "alice", "k-1", scope="token:1")
    again, created_again, _ = await intake.submit({"text": "x"}, "alice", "k-1", scope="token:1")
    assert created and not created_again and again.id == first.id
    assert len(await store.messages(limit=5)) == 1 and accepted.calls == 1


async def test_a_key_reused_for_another_request_is_a_conflict(intake: Intake) -> None:
    await intake.submit({"text": "x"}, "alice", "k-1", scope="token:1")
    with pytest.raises(Conflict, match="different request"):
        await intake.submit({"text": "y"}, "alice", "k-1", scope="token:1")


async def test_keys_are_scoped_per_client(intake: Intake, store: SqliteStore) -> None:
    a, _, _ = await intake.submit({"text": "x"}, "alice", "k-1", scope="token:1")
    b, created, _ = await intake.submit({"text": "x"}, "bob", "k-1", scope="token:2")
    assert created and a.id != b.id


@pytest.mark.parametrize("key", ["", "k" * 201, "naïve", "tab\there"])
async def test_a_malformed_key_is_refused(refused: Refused, key: str) -> None:
    error = await refused({"text": "x"}, idempotency_key=key)
    assert error.field == "Idempotency-Key" and "printable ASCII" in error.detail


# -- refused, naming the field --------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"text": ""}, "text", ""),
        ({"text": "   "}, "text", ""),
        ({"text": "x" * (MAX_TEXT + 1)}, "text", ""),
        ({}, "text", ""),
        ({"text": "x", "colour": "red"}, "colour", ""),
        ({"text": "x", "link": "ftp://example.org"}, "link", "https://"),
        ({"text": "x", "language": "English"}, "language", "pt-BR"),
        ({"text": "x", "route": "nope"}, "route", "no route named 'nope'"),
        ({"text": "x", "overrides": {"nope": "y"}}, "overrides.nope", "no channel"),
        ({"text": "x", "thread": 0}, "thread", ""),
        ({"text": "x", "thread": 42}, "thread", "no message 42"),
        ({"text": "a\x00b"}, "text", "NUL"),
        ({"text": "x", "images": [{"data": "!!", "content_type": "image/png"}]},
         "images.0.data", "base64"),
        ({"text": "x", "images": [{"data": "", "content_type": "image/png"}]},
         "images.0.data", "empty"),
        ({"text": "x", "images": [{"data": "aGVsbG8=", "content_type": "image/png"}]},
         "images.0.data", NOT_SO),
        ({"text": "x", "images": [{"data": "aGVsbG8=", "content_type": "image/tiff"}]},
         "images.0.content_type", "image/webp"),
    ],
)  # fmt: skip
async def test_bad_input_names_the_field(
    refused: Refused, payload: dict[str, Any], field: str, words: str
) -> None:
    error = await refused(payload)
    assert error.field == field and words in error.detail


async def test_a_time_in_the_past_needs_allow_past(
    intake: Intake, refused: Refused, clock: FakeClock
) -> None:
    past = (T0 - timedelta(days=365)).isoformat()
    error = await refused({"text": "x", "scheduled_at": past})
    assert error.field == "scheduled_at" and "in the past" in error.detail
    almost_now = (T0 - timedelta(seconds=30)).isoformat()  # typed "now-ish": not a mistake
    assert (await intake.submit({"text": "x", "scheduled_at": almost_now}, "alice"))[1]
    message, _, _ = await intake.submit(
        {"text": "y", "scheduled_at": past, "allow_past": True}, "a"
    )
    assert message.scheduled_at == T0 - timedelta(days=365)


async def test_expiry_must_be_ahead_and_after_the_schedule(refused: Refused) -> None:
    gone = await refused({"text": "x", "expires_at": (T0 - timedelta(seconds=1)).isoformat()})
    assert gone.field == "expires_at" and gone.detail == "is in the past"
    at = T0 + timedelta(hours=1)
    early = await refused(
        {"text": "x", "scheduled_at": at.isoformat(), "expires_at": at.isoformat()}
    )
    assert early.field == "expires_at" and early.detail == "must be after scheduled_at"


async def test_a_reject_route_refuses_text_too_long_for_a_channel(refused: Refused) -> None:
    error = await refused({"text": "x" * 21, "route": "strict"})
    assert error.field == "text" and "too long for channel short" in error.detail


async def test_a_reject_route_names_the_override_that_is_too_long(
    intake: Intake, refused: Refused
) -> None:
    error = await refused({"text": "fine", "route": "strict", "overrides": {"short": "y" * 21}})
    assert error.field == "overrides.short"
    assert (await intake.submit({"text": "x" * 20, "route": "strict"}, "alice"))[1]


# -- edits and cancellation -----------------------------------------------------------------


async def test_an_edit_changes_text_and_time_before_sending(
    intake: Intake, store: SqliteStore, clock: FakeClock
) -> None:
    message, _, _ = await intake.submit({"text": "draft"}, "alice")
    later = T0 + timedelta(hours=1)
    clock.advance(5)
    edited = await intake.edit(
        message.id, {"text": "final", "scheduled_at": later.isoformat()}, "alice"
    )
    assert edited.text == "final" and edited.scheduled_at == later
    [d] = await store.deliveries(message.id)
    assert d.due_at == later


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({}, "body", "names nothing to change"),
        ({"route": "strict"}, "route", "cannot be edited"),
        ({"text": None}, "text", "must be text"),
        ({"overrides": {"nope": "y"}}, "overrides.nope", "no channel"),
    ],
)
async def test_a_bad_edit_names_the_field(
    intake: Intake, payload: dict[str, Any], field: str, words: str
) -> None:
    message, _, _ = await intake.submit({"text": "draft"}, "alice")
    with pytest.raises(InvalidInput) as info:
        await intake.edit(message.id, payload, "alice")
    assert info.value.field == field and words in info.value.detail


async def test_editing_or_cancelling_an_unknown_message_is_not_found(intake: Intake) -> None:
    with pytest.raises(NotFound):
        await intake.edit(99, {"text": "x"}, "alice")
    with pytest.raises(NotFound):
        await intake.cancel(99, "alice")


async def test_cancel_stops_the_pending_deliveries(intake: Intake, store: SqliteStore) -> None:
    message, _, _ = await intake.submit({"text": "oops"}, "alice")
    cancelled = await intake.cancel(message.id, "alice")
    assert cancelled.cancelled_at == T0
    assert [d.state for d in await store.deliveries(message.id)] == [DeliveryState.CANCELLED]
