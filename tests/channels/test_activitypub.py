"""The activitypub adapter against an in-memory host: what it publishes for a post, a replay,
an edit, a thread reply and an image (the daemon side is tested in tests/integration)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from channels.activitypub.channel import ActivityPubChannel, ActivityPubOptions
from channels.activitypub.port import Ledger, Outgoing
from channels.base import ChannelContext, Media, Post, TransientError
from tests.peers.samples import PNG


class Host:
    """The ActorHost protocol in memory: what the adapter would have the daemon keep."""

    def __init__(self) -> None:
        self.out: list[Outgoing] = []
        self.notes: dict[str, dict[str, Any]] = {}

    async def publish(self, outgoing: Outgoing) -> None:
        self.out.append(outgoing)
        self.notes[outgoing.note["id"]] = outgoing.note

    async def published(self, note_id: str) -> dict[str, Any] | None:
        return self.notes.get(note_id)

    async def store_media(self, media: Media) -> str:
        return f"https://status.acme.example/ap/media/{len(media.data)}.png"

    async def ledger(self) -> Ledger:
        return Ledger(0, 0, 0)


def post(n: int, text: str, **kw: Any) -> Post:
    return Post(message_id=n, key=f"m{n}-fedi-1", text=text, created_at=datetime.now(UTC), **kw)


@pytest.fixture
def channel(tmp_path: Path) -> tuple[ActivityPubChannel, Host]:
    ctx = ChannelContext(name="fedi", state_dir=tmp_path, public_url="https://status.acme.example")
    ch = ActivityPubChannel(ctx, ActivityPubOptions(username="status", domain="acme.example"))
    host = Host()
    ch.attach(host)
    return ch, host


async def test_create_replay_and_update(channel: tuple[ActivityPubChannel, Host]) -> None:
    ch, host = channel
    assert ch.actor.handle == "status@acme.example"
    receipt = await ch.send(post(7, "Checkout is down. #incident", content_warning="Outage"))
    assert receipt.remote_id == receipt.url == "https://status.acme.example/users/status/posts/7"
    (create,) = host.out
    assert create.kind == "Create" and create.activity["id"] == f"{receipt.remote_id}/activity"
    assert create.activity["actor"] == "https://status.acme.example/users/status"
    assert (create.note["summary"], create.note["sensitive"]) == ("Outage", True)
    assert create.note["tag"][0]["name"] == "#incident"
    await ch.send(post(7, "Checkout is down. #incident", content_warning="Outage"))
    assert len(host.out) == 1  # a replay of what is out: nothing new for followers
    await ch.send(post(7, "Checkout is down for EU customers. #incident", content_warning="Outage"))
    update = host.out[-1]
    assert update.kind == "Update" and update.note["id"] == receipt.remote_id
    assert update.note["published"] == create.note["published"] and "updated" in update.note


async def test_thread_reply_and_image(channel: tuple[ActivityPubChannel, Host]) -> None:
    ch, host = channel
    first = await ch.send(post(1, "Graph.", media=(Media(PNG, "image/png", alt="Errors"),)))
    await ch.send(post(2, "Fixed.", reply_to=first, thread_root=first))
    one, two = (o.note for o in host.out)
    assert one["attachment"] == [{"type": "Document", "mediaType": "image/png", "name": "Errors",
                                  "url": f"https://status.acme.example/ap/media/{len(PNG)}.png"}]  # fmt: skip
    assert two["inReplyTo"] == one["id"]


async def test_without_the_daemon_the_post_waits(tmp_path: Path) -> None:
    ctx = ChannelContext(name="fedi", state_dir=tmp_path, public_url="https://s.example")
    ch = ActivityPubChannel(ctx, ActivityPubOptions())
    with pytest.raises(TransientError, match="not served yet"):
        await ch.send(post(1, "hello"))
