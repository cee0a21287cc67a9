"""The X adapter against the local X API: peers.md's X checklist, through the real signer."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from channels.base import (
    ChannelContext,
    Media,
    PermanentError,
    Post,
    RateLimitedError,
    Receipt,
    TransientError,
)
from channels.x import XChannel, XOptions
from tests.peers.faults import Fault
from tests.peers.samples import PNG
from tests.peers.x_api import BEARER, USER, XPeer


def post(text: str = "Checkout is slow; we are on it.", n: int = 1, **kw: Any) -> Post:
    return Post(message_id=n, key=f"m{n}-x-1", text=text, created_at=datetime.now(UTC), **kw)


@pytest.fixture
async def peer() -> AsyncIterator[XPeer]:
    async with XPeer() as p:
        yield p


async def adapter(tmp_path: Path, peer: XPeer, **opts: Any) -> XChannel:
    options = XOptions.model_validate(peer.options(timeout=1.0, **opts))
    ch = XChannel(ChannelContext(name="x", state_dir=tmp_path), options)
    await ch.open()
    return ch


@pytest.fixture
async def x(tmp_path: Path, peer: XPeer) -> AsyncIterator[XChannel]:
    ch = await adapter(tmp_path, peer)
    yield ch
    await ch.close()


async def test_post_is_signed_and_returns_the_201_receipt(x: XChannel, peer: XPeer) -> None:
    got = await x.send(post())
    [tweet] = peer.state.tweets
    assert got.remote_id == tweet.id and isinstance(got.remote_id, str)
    assert got.url == f"https://x.com/i/web/status/{tweet.id}"
    assert got.budget is not None and got.budget.remaining == peer.state.limit - 1
    assert 0 < got.budget.reset_after <= 901


async def test_wrong_secret_is_a_401_credentials_error(tmp_path: Path, peer: XPeer) -> None:
    ch = await adapter(tmp_path, peer, consumer_secret="not-the-secret")
    try:
        with pytest.raises(PermanentError) as info:
            await ch.send(post())
        check = await ch.check()
    finally:
        await ch.close()
    assert info.value.credentials and info.value.status == 401
    assert not check.ok and check.credentials
    assert peer.state.tweets == []


async def test_bearer_token_also_works(tmp_path: Path, peer: XPeer) -> None:
    ch = XChannel(
        ChannelContext(name="x", state_dir=tmp_path),
        XOptions.model_validate({"api_base": peer.url, "bearer_token": BEARER}),
    )
    await ch.open()
    try:
        await ch.send(post())
        assert (await ch.check()).detail == f"authenticated as @{USER['username']}"
    finally:
        await ch.close()
    assert peer.texts == ["Checkout is slow; we are on it."]


def test_options_need_one_complete_auth_mode() -> None:
    with pytest.raises(ValueError, match="bearer_token"):
        XOptions.model_validate({"consumer_key": "k", "consumer_secret": "s"})


async def test_duplicate_without_uncertainty_is_permanent(x: XChannel, peer: XPeer) -> None:
    await x.send(post())
    with pytest.raises(PermanentError, match="duplicate content"):
        await x.send(post(n=2))
    assert len(peer.state.tweets) == 1


async def test_ambiguous_write_then_retry_posts_once(x: XChannel, peer: XPeer) -> None:
    peer.server.set_fault(Fault.AMBIGUOUS, times=1)
    with pytest.raises(TransientError) as info:
        await x.send(post())
    assert info.value.maybe_delivered
    assert len(peer.state.tweets) == 1  # it landed
    got = await x.send(dataclasses.replace(post(), uncertain=True))
    assert len(peer.state.tweets) == 1
    assert got.remote_id == peer.state.tweets[0].id


async def test_duplicate_refusal_after_an_ambiguous_attempt_counts_as_delivered(
    tmp_path: Path, peer: XPeer
) -> None:
    # The earlier post is older than the lookback window: only X's duplicate refusal tells.
    ch = await adapter(tmp_path, peer, reconcile_lookback=5)
    try:
        await ch.send(post("the announcement"))
        for i in range(6):
            await ch.send(post(f"filler {i}", n=10 + i))
        got = await ch.send(dataclasses.replace(post("the announcement"), uncertain=True))
    finally:
        await ch.close()
    assert got.remote_id is None and got.note and "duplicate" in got.note
    assert peer.texts.count("the announcement") == 1


# -- the reconcile lookup fails: never a failure, never a second post -----------------------------


@pytest.mark.parametrize(
    ("tier", "lookup"),
    [("free", "ok"), ("basic", "404"), ("basic", "503"), ("basic", "hang")],
    ids=["free-tier-403-client-not-enrolled", "404", "503", "timeout"],
)
async def test_a_failed_lookup_after_an_ambiguous_attempt_that_landed_counts_as_delivered(
    x: XChannel, peer: XPeer, tier: str, lookup: str
) -> None:
    peer.server.set_fault(Fault.AMBIGUOUS, times=1)
    with pytest.raises(TransientError):
        await x.send(post())
    assert len(peer.state.tweets) == 1  # it landed; the answer never came
    peer.state.tier, peer.state.lookup = tier, lookup  # type: ignore[assignment]
    got = await x.send(dataclasses.replace(post(), uncertain=True))
    assert peer.state.lookups >= 1  # it did try to look, and could not
    assert got.note and "duplicate" in got.note  # X's duplicate refusal proved it landed
    assert peer.texts == ["Checkout is slow; we are on it."]


@pytest.mark.parametrize("tier", ["free", "basic"])
async def test_a_failed_lookup_after_an_ambiguous_attempt_that_did_not_land_posts_once(
    x: XChannel, peer: XPeer, tier: str
) -> None:
    peer.server.set_fault(Fault.HANG, times=1)  # the request never reached the timeline
    with pytest.raises(TransientError) as hung:
        await x.send(post())
    assert hung.value.maybe_delivered and peer.state.tweets == []
    peer.state.tier = tier  # type: ignore[assignment]
    peer.state.lookup = "503"
    got = await x.send(dataclasses.replace(post(), uncertain=True))
    [tweet] = peer.state.tweets
    assert got.remote_id == tweet.id and peer.state.lookups == 1


async def test_on_the_basic_tier_the_lookup_finds_the_post_without_posting_again(
    x: XChannel, peer: XPeer
) -> None:
    peer.server.set_fault(Fault.AMBIGUOUS, times=1)
    with pytest.raises(TransientError):
        await x.send(post())
    got = await x.send(dataclasses.replace(post(), uncertain=True))
    assert (
        got.remote_id == peer.state.tweets[0].id and got.note == "found after an ambiguous attempt"
    )
    assert peer.state.lookups == 1 and len(peer.state.tweets) == 1


async def test_free_tier_lookup_answer_is_x_client_forbidden(x: XChannel, peer: XPeer) -> None:
    peer.state.tier = "free"
    with pytest.raises(PermanentError) as info:
        await x._call("GET", f"{peer.url}/2/users/{USER['id']}/tweets?max_results=5")
    assert info.value.status == 403 and "subset of X API V2 endpoints" in info.value.reason


async def test_reply_to_unknown_id_is_a_400(x: XChannel) -> None:
    with pytest.raises(PermanentError, match="does not exist") as info:
        await x.send(post(reply_to=Receipt(remote_id="1234")))
    assert info.value.status == 400


async def test_thread_replies_to_the_previous_post(x: XChannel, peer: XPeer) -> None:
    first = await x.send(post("Incident: checkout errors."))
    await x.send(post("Update: fixed.", n=2, reply_to=first, thread_root=first))
    assert peer.state.tweets[1].reply_to == first.remote_id


async def test_over_280_weighted_is_refused_by_the_platform(x: XChannel) -> None:
    with pytest.raises(PermanentError, match="too long") as info:
        await x.send(post("界" * 141))  # 282 weighted, 141 characters
    assert info.value.status == 403


async def test_rate_limit_429_with_epoch_reset(x: XChannel, peer: XPeer) -> None:
    peer.server.set_fault(Fault.RATE_LIMITED, retry_after=120)
    with pytest.raises(RateLimitedError) as info:
        await x.send(post())
    assert 110 <= info.value.retry_after <= 121


async def test_window_exhausted_gives_429_until_reset(x: XChannel, peer: XPeer) -> None:
    peer.state.limit = 1
    got = await x.send(post("one"))
    assert got.budget is not None and got.budget.remaining == 0
    with pytest.raises(RateLimitedError) as info:
        await x.send(post("two", n=2))
    assert info.value.retry_after > 800


@pytest.mark.parametrize("status", [502, 503])
async def test_html_5xx_from_the_edge_is_transient(x: XChannel, peer: XPeer, status: int) -> None:
    peer.server.set_fault(Fault.HTML_5XX, status=status)
    with pytest.raises(TransientError) as info:
        await x.send(post())
    assert info.value.status == status and not info.value.maybe_delivered
    assert "<html" not in info.value.reason.lower() or len(info.value.reason) < 200


async def test_hang_reset_and_refused(x: XChannel, peer: XPeer) -> None:
    peer.server.set_fault(Fault.HANG)
    t = time.monotonic()
    with pytest.raises(TransientError) as hung:
        await x.send(post())
    assert hung.value.maybe_delivered and time.monotonic() - t < 10
    peer.server.set_fault(Fault.RESET)
    with pytest.raises(TransientError) as reset:
        await x.send(post())
    assert reset.value.maybe_delivered
    peer.server.heal()
    await peer.server.stop_listening()
    with pytest.raises(TransientError) as refused:
        await x.send(post())
    assert not refused.value.maybe_delivered


async def test_unresolvable_host_is_transient(tmp_path: Path) -> None:
    options = XOptions.model_validate(
        {"api_base": "http://x-api.invalid", "bearer_token": BEARER, "timeout": 2}
    )
    ch = XChannel(ChannelContext(name="x", state_dir=tmp_path), options)
    await ch.open()
    try:
        with pytest.raises(TransientError, match="cannot connect"):
            await ch.send(post())
        assert not (await ch.check()).ok
    finally:
        await ch.close()


async def test_writes_fail_while_reads_work(x: XChannel, peer: XPeer) -> None:
    peer.server.set_fault(Fault.WRITES_FAIL)
    assert (await x.check()).ok  # the cheap auth read is green...
    with pytest.raises(TransientError):  # ...while posting is not
        await x.send(post())


async def test_revoked_credentials(x: XChannel, peer: XPeer) -> None:
    peer.state.revoked = True
    check = await x.check()
    assert not check.ok and check.credentials
    with pytest.raises(PermanentError) as info:
        await x.send(post())
    assert info.value.credentials


async def test_images_with_alt_text_are_uploaded_then_attached(x: XChannel, peer: XPeer) -> None:
    await x.send(post(media=(Media(PNG, "image/png", alt="Error rate graph"),)))
    [tweet] = peer.state.tweets
    [media_id] = tweet.media_ids
    assert peer.state.media[media_id]["alt"] == "Error rate graph"
    assert peer.state.media[media_id]["bytes"] == PNG


async def test_image_limits_are_checked_before_sending(x: XChannel, peer: XPeer) -> None:
    five = tuple(Media(PNG, "image/png") for _ in range(5))
    with pytest.raises(PermanentError, match="at most 4"):
        await x.send(post(media=five))
    with pytest.raises(PermanentError, match="image/tiff"):
        await x.send(post(media=(Media(PNG, "image/tiff"),)))
    assert peer.server.requests == []
