"""The owned feed channel: valid Atom and JSON Feed, atomic files, idempotent by key."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from channels.base import ChannelContext, Media, PermanentError, Post
from channels.feed import FeedChannel, FeedOptions
from tests.peers.samples import PNG


def post(message_id: int, text: str, **kw: object) -> Post:
    return Post(
        message_id=message_id,
        key=f"m{message_id}-status-1",
        text=text,
        created_at=datetime.now(UTC),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
async def feed(tmp_path: Path) -> FeedChannel:
    ctx = ChannelContext(name="status", state_dir=tmp_path, public_url="https://acme.example")
    ch = FeedChannel(ctx, FeedOptions(title="Acme status", max_items=3))
    await ch.open()
    return ch


async def test_atom_and_json_feed_are_valid_and_carry_the_posts(feed: FeedChannel) -> None:
    r1 = await feed.send(
        post(1, "Checkout is slow.", title="Incident", link="https://acme.example/i/1")
    )
    await feed.send(post(2, "Fixed & <verified>.", reply_to=r1, thread_root=r1))
    assert r1.url == "https://acme.example/status/#item-1"

    parsed = feedparser.parse((feed.directory / "feed.atom").read_bytes())
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.feed.title == "Acme status"
    assert [e.content[0].value for e in parsed.entries] == [
        "Fixed & <verified>.",
        "Checkout is slow.",
    ]
    assert parsed.entries[1].title == "Incident"
    assert any(link.href == "https://acme.example/i/1" for link in parsed.entries[1].links)

    doc = json.loads((feed.directory / "feed.json").read_text())
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["feed_url"] == "https://acme.example/status/feed.json"
    for item in doc["items"]:  # JSON Feed 1.1: id is a string, content_text or content_html
        assert isinstance(item["id"], str) and "content_text" in item
    assert [i["id"] for i in doc["items"]] == ["2", "1"]

    html = (feed.directory / "index.html").read_text()
    assert "Fixed &amp; &lt;verified&gt;." in html  # escaped, never markup
    assert 'id="item-2" class="reply"' in html
    assert not list(feed.directory.glob(".*.tmp"))  # atomic writes leave no temp files


async def test_resending_a_key_replaces_its_item_and_old_items_roll_off(feed: FeedChannel) -> None:
    await feed.send(post(1, "first"))
    await feed.send(post(1, "first"))  # a retry after an ambiguous failure
    items = json.loads((feed.directory / "items.json").read_text())
    assert [i["text"] for i in items] == ["first"]
    for n in range(2, 6):
        await feed.send(post(n, f"post {n}"))
    items = json.loads((feed.directory / "items.json").read_text())
    assert [i["id"] for i in items] == [5, 4, 3]  # max_items = 3, newest first


async def test_images_are_published_with_alt_text(feed: FeedChannel) -> None:
    await feed.send(post(1, "look", media=(Media(PNG, "image/png", alt="A red dot"),)))
    [img] = json.loads((feed.directory / "items.json").read_text())[0]["images"]
    assert img["alt"] == "A red dot" and img["url"].startswith("https://acme.example/status/media/")
    name = img["url"].rsplit("/", 1)[1]
    assert (feed.directory / "media" / name).read_bytes() == PNG
    assert 'alt="A red dot"' in (feed.directory / "index.html").read_text()


async def test_items_survive_a_restart(tmp_path: Path, feed: FeedChannel) -> None:
    await feed.send(post(1, "persisted"))
    again = FeedChannel(ChannelContext(name="status", state_dir=tmp_path), FeedOptions())
    await again.open()
    await again.send(post(2, "after restart"))
    texts = [i["text"] for i in json.loads((again.directory / "items.json").read_text())]
    assert texts == ["after restart", "persisted"]


async def test_check_reports_an_unwritable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    ch = FeedChannel(
        ChannelContext(name="s", state_dir=tmp_path), FeedOptions(directory=blocker / "x")
    )
    with pytest.raises(PermanentError, match="feed directory"):
        await ch.open()
