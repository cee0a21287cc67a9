"""Bluesky through the atproto SDK against a local PDS (peers.md's Bluesky checklist)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from channels.base import (
    ChannelContext,
    Media,
    PermanentError,
    Post,
    RateLimitedError,
    TransientError,
)
from channels.bluesky import BlueskyChannel, BlueskyOptions, facets, tid_for
from tests.peers.bluesky_pds import APP_PASSWORD, DID, HANDLE, BlueskyPds
from tests.peers.faults import Fault
from tests.peers.samples import PNG
from tests.secrets_registry import secret

secret(APP_PASSWORD)
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def post(text: str = "Checkout is slow; we are on it.", n: int = 1, **kw: Any) -> Post:
    return Post(message_id=n, key=f"m{n}-bluesky-1", text=text, created_at=T0, **kw)


@pytest.fixture
async def pds() -> AsyncIterator[BlueskyPds]:
    async with BlueskyPds() as p:
        yield p


async def adapter(tmp_path: Path, pds: BlueskyPds, password: str = APP_PASSWORD) -> BlueskyChannel:
    opts = BlueskyOptions(
        service=pds.url, handle=HANDLE, app_password=SecretStr(password), timeout=1.5
    )
    ch = BlueskyChannel(ChannelContext(name="bluesky", state_dir=tmp_path), opts)
    await ch.open()
    return ch


@pytest.fixture
async def sky(tmp_path: Path, pds: BlueskyPds) -> AsyncIterator[BlueskyChannel]:
    ch = await adapter(tmp_path, pds)
    yield ch
    await ch.close()


def test_facets_use_utf8_byte_offsets() -> None:
    text = "Störung 🚨 details: https://status.acme.example/i/1 #outage ok"
    spans = facets(text)
    raw = text.encode()
    link, tag = spans
    assert (
        raw[link["index"]["byteStart"] : link["index"]["byteEnd"]].decode()
        == "https://status.acme.example/i/1"
    )
    assert link["features"][0]["uri"] == "https://status.acme.example/i/1"
    assert raw[tag["index"]["byteStart"] : tag["index"]["byteEnd"]].decode() == "#outage"
    assert tag["features"][0] == {"$type": "app.bsky.richtext.facet#tag", "tag": "outage"}
    assert [s for s in facets("see https://x.example/#frag") if "tag" in s["features"][0]] == []


def test_record_keys_are_tids_stable_per_post_and_distinct_per_part() -> None:
    a, b = tid_for(post()), tid_for(post())
    assert a == b and len(a) == 13 and set(a) <= set("234567abcdefghijklmnopqrstuvwxyz")
    assert tid_for(dataclasses.replace(post(), part=2, key="m1-bluesky-2")) != a


async def test_post_with_link_facet_and_web_url(sky: BlueskyChannel, pds: BlueskyPds) -> None:
    got = await sky.send(post("Updates: https://status.acme.example/ 🚨 #outage", language="en"))
    [record] = pds.posts()
    rkey = tid_for(post())
    assert got.remote_id == f"at://{DID}/app.bsky.feed.post/{rkey}"
    assert got.url == f"https://bsky.app/profile/{HANDLE}/post/{rkey}"
    assert record["langs"] == ["en"] and len(record["facets"]) == 2
    assert record["createdAt"] == "2026-11-25T09:00:00Z"


async def test_thread_reply_refs(sky: BlueskyChannel, pds: BlueskyPds) -> None:
    first = await sky.send(post("Incident"))
    second = await sky.send(post("Update 1", n=2, reply_to=first, thread_root=first))
    await sky.send(post("Update 2", n=3, reply_to=second, thread_root=first))
    records = list(pds.state.records.values())
    assert records[2]["reply"]["root"]["uri"] == first.remote_id
    parent = records[2]["reply"]["parent"]
    assert (parent["uri"], parent["cid"]) == (second.remote_id, second.extra["cid"])


async def test_image_with_alt_text(sky: BlueskyChannel, pds: BlueskyPds) -> None:
    await sky.send(post(media=(Media(PNG, "image/png", alt="Error graph"),)))
    [record] = pds.posts()
    [image] = record["embed"]["images"]
    assert image["alt"] == "Error graph"
    blob = pds.state.blobs[image["image"]["ref"]["$link"]]
    assert blob["data"] == PNG and blob["mimeType"] == "image/png"


async def test_image_limits_checked_before_sending(sky: BlueskyChannel, pds: BlueskyPds) -> None:
    with pytest.raises(PermanentError, match="1,000,000"):
        await sky.send(post(media=(Media(b"x" * 1_000_001, "image/png"),)))
    with pytest.raises(PermanentError, match="at most 4"):
        await sky.send(post(media=tuple(Media(PNG, "image/png") for _ in range(5))))
    assert pds.server.requests == []


async def test_session_is_reused_across_posts_and_restarts(tmp_path: Path, pds: BlueskyPds) -> None:
    ch = await adapter(tmp_path, pds)
    for i in range(5):
        await ch.send(post(f"post {i}", n=i + 1))
    await ch.close()
    again = await adapter(tmp_path, pds)  # a daemon restart: the saved session is used
    await again.send(post("after restart", n=9))
    assert (await again.check()).ok
    await again.close()
    assert pds.state.create_sessions == 1
    assert (tmp_path / "session").stat().st_mode & 0o777 == 0o600


async def test_expired_access_token_is_refreshed_not_logged_in_again(
    sky: BlueskyChannel, pds: BlueskyPds
) -> None:
    await sky.send(post("before"))
    pds.expire_access_tokens()
    await sky.send(post("after expiry", n=2))
    assert pds.state.refreshes == 1 and pds.state.create_sessions == 1
    assert len(pds.posts()) == 2


async def test_revoked_app_password_is_a_credentials_error(
    sky: BlueskyChannel, pds: BlueskyPds
) -> None:
    await sky.send(post("works"))
    pds.revoke_app_password()
    with pytest.raises(PermanentError) as info:
        await sky.send(post("no longer", n=2))
    assert info.value.credentials and "AuthenticationRequired" in info.value.reason
    check = await sky.check()
    assert not check.ok and check.credentials


async def test_over_300_graphemes_is_refused_by_the_pds(sky: BlueskyChannel) -> None:
    with pytest.raises(PermanentError, match="grapheme too big"):
        await sky.send(post("👩‍👩‍👧" * 301))  # 301 graphemes, far more code points


async def test_ambiguous_write_is_found_not_written_twice(
    sky: BlueskyChannel, pds: BlueskyPds
) -> None:
    await sky.check()  # log in first, so the fault hits the write
    pds.server.set_fault(Fault.AMBIGUOUS, times=1)
    with pytest.raises(TransientError) as info:
        await sky.send(post())
    assert info.value.maybe_delivered and len(pds.posts()) == 1
    got = await sky.send(dataclasses.replace(post(), uncertain=True))
    assert len(pds.posts()) == 1 and got.note == "found after an ambiguous attempt"
    # Even without the uncertainty flag the fixed record key prevents a second post.
    again = await sky.send(post())
    assert len(pds.posts()) == 1 and again.remote_id == got.remote_id


async def test_429_with_ratelimit_headers(sky: BlueskyChannel, pds: BlueskyPds) -> None:
    await sky.check()
    pds.server.set_fault(Fault.RATE_LIMITED, retry_after=120)
    with pytest.raises(RateLimitedError) as info:
        await sky.send(post())
    assert 110 <= info.value.retry_after <= 121


async def test_5xx_hang_and_refused(sky: BlueskyChannel, pds: BlueskyPds) -> None:
    await sky.check()
    pds.server.set_fault(Fault.JSON_5XX, status=500)
    with pytest.raises(TransientError):
        await sky.send(post())
    pds.server.set_fault(Fault.HANG)
    with pytest.raises(TransientError) as hung:
        await sky.send(post())
    assert hung.value.maybe_delivered
    pds.server.heal()
    await pds.server.stop_listening()
    with pytest.raises(TransientError) as refused:
        await sky.send(post())
    assert not refused.value.maybe_delivered
    assert pds.posts() == []
