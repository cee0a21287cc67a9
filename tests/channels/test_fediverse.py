"""Mastodon-API servers through Mastodon.py against the local server (peers.md's checklist)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
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
    Receipt,
    TransientError,
)
from channels.fediverse import MastodonChannel, MastodonOptions
from tests.peers.faults import Fault
from tests.peers.mastodon_api import TOKEN, MastodonPeer
from tests.peers.samples import PNG
from tests.secrets_registry import secret

secret(TOKEN)


def post(text: str = "Checkout is slow; we are on it.", n: int = 1, **kw: Any) -> Post:
    return Post(message_id=n, key=f"m{n}-mastodon-1", text=text, created_at=datetime.now(UTC), **kw)


@pytest.fixture
async def peer() -> AsyncIterator[MastodonPeer]:
    async with MastodonPeer() as p:
        yield p


async def adapter(tmp_path: Path, peer: MastodonPeer, **kw: Any) -> MastodonChannel:
    opts = MastodonOptions(api_base_url=peer.url, access_token=SecretStr(kw.pop("token", TOKEN)),
                           timeout=1.5, **kw)  # fmt: skip
    ch = MastodonChannel(ChannelContext(name="mastodon", state_dir=tmp_path), opts)
    await ch.open()
    return ch


@pytest.fixture
async def masto(tmp_path: Path, peer: MastodonPeer) -> AsyncIterator[MastodonChannel]:
    ch = await adapter(tmp_path, peer)
    yield ch
    await ch.close()


async def test_post_with_visibility_cw_language_and_idempotency_key(
    tmp_path: Path, peer: MastodonPeer
) -> None:
    ch = await adapter(tmp_path, peer, visibility="unlisted", language="en")
    try:
        got = await ch.send(post(content_warning="outage", language="de"))
    finally:
        await ch.close()
    [s] = peer.state.statuses
    assert got.remote_id == s["id"] and got.url == f"{peer.url}/@acme/{s['id']}"
    assert s["visibility"] == "unlisted" and s["spoiler_text"] == "outage" and s["sensitive"]
    assert s["language"] == "de"
    assert peer.state.headers[0]["Idempotency-Key"] == "m1-mastodon-1"
    assert got.budget is not None and got.budget.remaining == peer.state.limit - 1
    assert 290 <= got.budget.reset_after <= 301


async def test_limits_come_from_the_instance(tmp_path: Path, peer: MastodonPeer) -> None:
    peer.state.max_characters, peer.state.url_chars = 5000, 30
    ch = await adapter(tmp_path, peer)  # a GoToSocial-like server
    rule = ch.limits.text
    assert rule is not None and rule.max == 5000
    assert rule.measure("see https://example.org/a/very/long/path/that/goes/on") == 4 + 30
    await ch.close()
    peer.state.v2 = False
    peer.state.max_characters = 1000
    old = await adapter(tmp_path, peer)  # only the v1 instance API
    assert old.limits.text is not None and old.limits.text.max == 1000
    await old.close()


async def test_over_the_instance_limit_is_a_422(masto: MastodonChannel) -> None:
    with pytest.raises(PermanentError, match="character limit of 500") as info:
        await masto.send(post("x" * 501))
    assert info.value.status == 422


async def test_retry_after_a_crash_returns_the_same_status(
    tmp_path: Path, peer: MastodonPeer
) -> None:
    crashed = await adapter(tmp_path, peer)
    peer.server.set_fault(Fault.AMBIGUOUS, times=1)  # stored, then the connection dropped
    with pytest.raises(TransientError) as info:
        await crashed.send(post())
    await crashed.close()  # the daemon dies here; a new one takes the delivery over
    assert info.value.maybe_delivered and len(peer.state.statuses) == 1
    restarted = await adapter(tmp_path, peer)
    got = await restarted.send(dataclasses.replace(post(), uncertain=True))
    await restarted.close()
    assert len(peer.state.statuses) == 1 and got.remote_id == peer.state.statuses[0]["id"]
    assert [h["Idempotency-Key"] for h in peer.state.headers] == ["m1-mastodon-1"] * 2


async def test_media_202_is_polled_until_processed_then_attached(
    masto: MastodonChannel, peer: MastodonPeer
) -> None:
    await masto.send(
        post(media=(Media(PNG, "image/png", alt="Error graph", filename="graph.png"),))
    )
    [s] = peer.state.statuses
    [mid] = s["media_ids"]
    assert peer.state.media[mid]["description"] == "Error graph"
    assert peer.state.media[mid]["bytes"] == PNG
    assert peer.server.requests.count(("GET", f"/api/v1/media/{mid}")) == 2


async def test_thread_reply_and_deleted_target(masto: MastodonChannel, peer: MastodonPeer) -> None:
    first = await masto.send(post("Incident"))
    await masto.send(post("Update", n=2, reply_to=first, thread_root=first))
    assert peer.state.statuses[1]["in_reply_to_id"] == first.remote_id
    with pytest.raises(PermanentError, match="Record not found") as info:
        await masto.send(post("orphan", n=3, reply_to=Receipt(remote_id="999")))
    assert info.value.status == 404


async def test_401_revoked_token(masto: MastodonChannel, peer: MastodonPeer) -> None:
    peer.state.revoked = True
    with pytest.raises(PermanentError) as info:
        await masto.send(post())
    assert info.value.credentials and "The access token is invalid" in info.value.reason
    check = await masto.check()
    assert not check.ok and check.credentials


async def test_check_ok(masto: MastodonChannel) -> None:
    assert (await masto.check()).detail == "authenticated as @acme"


async def test_429_with_iso_reset(masto: MastodonChannel, peer: MastodonPeer) -> None:
    peer.server.set_fault(Fault.RATE_LIMITED, retry_after=90)
    with pytest.raises(RateLimitedError) as info:
        await masto.send(post())
    assert 80 <= info.value.retry_after <= 91


@pytest.mark.parametrize("status", [502, 503])
async def test_html_5xx_is_transient(
    masto: MastodonChannel, peer: MastodonPeer, status: int
) -> None:
    peer.server.set_fault(Fault.HTML_5XX, status=status)
    with pytest.raises(TransientError) as info:
        await masto.send(post())
    assert info.value.status == status and not info.value.maybe_delivered


async def test_hang_reset_refused(masto: MastodonChannel, peer: MastodonPeer) -> None:
    peer.server.set_fault(Fault.HANG)
    with pytest.raises(TransientError) as hung:
        await masto.send(post())
    assert hung.value.maybe_delivered
    peer.server.heal()
    await peer.server.stop_listening()
    with pytest.raises(TransientError) as refused:
        await masto.send(post())
    assert not refused.value.maybe_delivered


async def test_the_event_loop_keeps_turning_while_a_request_hangs(
    masto: MastodonChannel, peer: MastodonPeer
) -> None:
    peer.server.set_fault(Fault.HANG)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.05)

    task = asyncio.create_task(ticker())
    t = time.monotonic()
    with pytest.raises(TransientError):
        await masto.send(post())
    elapsed = time.monotonic() - t
    task.cancel()
    assert elapsed >= 1.0 and ticks >= elapsed / 0.05 * 0.5  # the loop ran while Mastodon.py waited
