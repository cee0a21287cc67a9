"""Slack through slack-sdk against the local Slack (peers.md's Slack checklist)."""

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
    PermanentError,
    Post,
    RateLimitedError,
    Receipt,
    TransientError,
)
from channels.slack import SlackChannel, SlackOptions, mrkdwn
from tests.peers.faults import Fault
from tests.peers.slack_api import CHANNEL_ID, HOOK_PATH, TOKEN, SlackPeer
from tests.secrets_registry import secret

secret(TOKEN)
secret(HOOK_PATH)


def post(text: str = "Checkout is slow; we are on it.", n: int = 1, **kw: Any) -> Post:
    return Post(message_id=n, key=f"m{n}-slack-1", text=text, created_at=datetime.now(UTC), **kw)


@pytest.fixture
async def peer() -> AsyncIterator[SlackPeer]:
    async with SlackPeer() as p:
        yield p


async def bot(tmp_path: Path, peer: SlackPeer, **kw: Any) -> SlackChannel:
    opts = SlackOptions(token=SecretStr(kw.pop("token", TOKEN)), channel=kw.pop("channel", "#status"),
                        api_base=peer.api_base, timeout=2, **kw)  # fmt: skip
    ch = SlackChannel(ChannelContext(name="slack", state_dir=tmp_path), opts)
    await ch.open()
    return ch


@pytest.fixture
async def slack(tmp_path: Path, peer: SlackPeer) -> AsyncIterator[SlackChannel]:
    ch = await bot(tmp_path, peer)
    yield ch
    await ch.close()


async def test_post_returns_ts_channel_and_permalink(slack: SlackChannel, peer: SlackPeer) -> None:
    got = await slack.send(post())
    [m] = peer.state.messages
    assert got.remote_id == m.ts and got.extra == {"ts": m.ts, "channel": CHANNEL_ID}
    assert got.url == f"https://acme.slack.com/archives/{CHANNEL_ID}/p{m.ts.replace('.', '')}"
    assert m.extra["mrkdwn"] is True and m.extra["unfurl_links"] is False


def test_mrkdwn_escapes_and_links() -> None:
    p = post("Sale <today> & tomorrow: https://acme.example/s?a=1&b=2", title="Big *news*",
             link="https://acme.example/")  # fmt: skip
    assert mrkdwn(p) == (
        "*Big *news**\nSale &lt;today&gt; &amp; tomorrow: <https://acme.example/s?a=1&amp;b=2>"
        "\n<https://acme.example/>"
    )


async def test_thread_updates_reply_in_the_thread(slack: SlackChannel, peer: SlackPeer) -> None:
    first = await slack.send(post("Incident"))
    await slack.send(post("Update", n=2, reply_to=first, thread_root=first))
    assert peer.state.messages[1].thread_ts == first.remote_id


async def test_unknown_thread_is_permanent(slack: SlackChannel) -> None:
    gone = Receipt(remote_id="1.000009", extra={"ts": "1.000009"})
    with pytest.raises(PermanentError, match="thread_not_found"):
        await slack.send(post(reply_to=gone, thread_root=gone))


@pytest.mark.parametrize(
    ("error", "credentials"),
    [("channel_not_found", False), ("not_in_channel", False), ("is_archived", False),
     ("invalid_auth", True), ("account_inactive", True), ("token_revoked", True),
     ("msg_too_long", False), ("no_text", False), ("invalid_blocks", False)],
)  # fmt: skip
async def test_ok_false_permanent_errors_are_not_retried(
    slack: SlackChannel, peer: SlackPeer, error: str, credentials: bool
) -> None:
    peer.state.next_errors = [error]
    with pytest.raises(PermanentError) as info:
        await slack.send(post())
    assert info.value.reason == f"Slack: {error}" and info.value.credentials is credentials
    assert info.value.status == 200  # Slack says it with HTTP 200


@pytest.mark.parametrize(
    "error", ["fatal_error", "internal_error", "service_unavailable", "request_timeout"]
)
async def test_ok_false_transient_errors(slack: SlackChannel, peer: SlackPeer, error: str) -> None:
    peer.state.next_errors = [error]
    with pytest.raises(TransientError, match=error):
        await slack.send(post())


async def test_429_with_retry_after(slack: SlackChannel, peer: SlackPeer) -> None:
    peer.server.set_fault(Fault.RATE_LIMITED, retry_after=7)
    with pytest.raises(RateLimitedError) as info:
        await slack.send(post())
    assert info.value.retry_after == 7


async def test_edge_5xx_hang_and_refused(slack: SlackChannel, peer: SlackPeer) -> None:
    peer.server.set_fault(Fault.HTML_5XX, status=503)
    with pytest.raises(TransientError):
        await slack.send(post())
    peer.server.set_fault(Fault.HANG)
    with pytest.raises(TransientError) as hung:
        await slack.send(post())
    assert hung.value.maybe_delivered
    peer.server.heal()
    await peer.server.stop_listening()
    with pytest.raises(TransientError) as refused:
        await slack.send(post())
    assert not refused.value.maybe_delivered
    assert peer.state.messages == []


async def test_ambiguous_write_is_found_not_posted_twice(
    slack: SlackChannel, peer: SlackPeer
) -> None:
    peer.server.set_fault(Fault.AMBIGUOUS, times=1)
    with pytest.raises(TransientError) as info:
        await slack.send(post())
    assert info.value.maybe_delivered and len(peer.state.messages) == 1
    got = await slack.send(dataclasses.replace(post(), uncertain=True))
    assert len(peer.state.messages) == 1 and got.remote_id == peer.state.messages[0].ts


async def test_auth_test_check(tmp_path: Path, peer: SlackPeer) -> None:
    ch = await bot(tmp_path, peer)
    try:
        assert (await ch.check()).ok
        peer.state.revoked = True
        result = await ch.check()
    finally:
        await ch.close()
    assert not result.ok and result.credentials and "token_revoked" in result.detail


async def test_incoming_webhook_and_its_plain_text_answers(tmp_path: Path, peer: SlackPeer) -> None:
    ch = SlackChannel(ChannelContext(name="hook", state_dir=tmp_path),
                      SlackOptions(webhook_url=SecretStr(peer.hook_url), timeout=2))  # fmt: skip
    await ch.open()
    try:
        got = await ch.send(post("via webhook <3"))
        assert peer.state.hooked[0]["text"] == "via webhook &lt;3" and got.remote_id is None
        peer.state.hook_answers = [(404, "no_service"), (410, "channel_is_archived"),
                                   (400, "invalid_payload"), (429, "rate_limited"), (500, "oops")]  # fmt: skip
        with pytest.raises(PermanentError) as gone:
            await ch.send(post())
        assert gone.value.credentials and "no_service" in gone.value.reason
        with pytest.raises(PermanentError, match="channel_is_archived"):
            await ch.send(post())
        with pytest.raises(PermanentError, match="invalid_payload"):
            await ch.send(post())
        with pytest.raises(RateLimitedError) as limited:
            await ch.send(post())
        assert limited.value.retry_after == 3
        with pytest.raises(TransientError):
            await ch.send(post())
    finally:
        await ch.close()


def test_options_need_one_mode() -> None:
    with pytest.raises(ValueError, match="either"):
        SlackOptions()
    with pytest.raises(ValueError, match="channel"):
        SlackOptions(token=SecretStr("x"))
