"""Whatever text the API accepts, the feed stays well-formed for every subscriber: characters
XML 1.0 forbids (``\\x01``, ``\\x0b``, ``\\x1b``...) never reach ``feed.atom``."""

from __future__ import annotations

import asyncio
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import feedparser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.base import ChannelContext, Post
from channels.feed import FeedChannel, FeedOptions
from channels.feed_formats import xml_safe

NS = "{http://www.w3.org/2005/Atom}"
# What the intake accepts: any Unicode text but NUL and lone surrogates (see intake.py).
ACCEPTED = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), min_size=1
)


def _send(directory: Path, text: str, title: str | None, link: str | None) -> bytes:
    ctx = ChannelContext(name="status", state_dir=directory, public_url="https://acme.example")
    channel = FeedChannel(ctx, FeedOptions(title="Acme status"))

    async def go() -> None:
        await channel.open()
        post = Post(message_id=1, key="m1-status-1", text=text, created_at=datetime.now(UTC),
                    title=title, link=link)  # fmt: skip
        await channel.send(post)

    asyncio.run(go())
    return (channel.directory / "feed.atom").read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ACCEPTED, title=st.none() | ACCEPTED, link=st.none() | ACCEPTED.map("https://x/".__add__))  # fmt: skip
def test_any_accepted_text_yields_a_feed_that_parses(
    text: str, title: str | None, link: str | None
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        atom = _send(Path(tmp), text, title, link)
        root = ET.fromstring(atom)  # a strict XML parser: fails on any forbidden character
        content = root.find(f"{NS}entry/{NS}content")
        assert content is not None  # the text itself survives, less only what XML forbids
        assert (content.text or "") == xml_safe(text).replace("\r\n", "\n").replace("\r", "\n")
        parsed = feedparser.parse(atom)
        assert not parsed.bozo, parsed.bozo_exception
        assert len(parsed.entries) == 1
        json.loads((Path(tmp) / "public" / "feed.json").read_bytes())


def test_forbidden_characters_are_dropped_and_the_rest_kept() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        atom = _send(Path(tmp), "red\x1b[31m alert\x01\x0b done\ufffe", "t\x02", None)
    assert b"\x1b" not in atom and b"\x01" not in atom and b"\x0b" not in atom
    entry = feedparser.parse(atom).entries[0]
    assert entry.content[0].value == "red[31m alert done" and entry.title == "t"
