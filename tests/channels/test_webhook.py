"""The signed webhook: signature, idempotency key, and answers mapped to the error hierarchy."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import SecretStr

from channels.base import (
    ChannelContext,
    PermanentError,
    Post,
    RateLimitedError,
    TransientError,
)
from channels.webhook import WebhookChannel, WebhookOptions
from tests.peers.faults import Fault
from tests.peers.webhook_receiver import WebhookReceiver
from tests.secrets_registry import secret

SECRET = secret("whsec-adapter-test-42")


def post(n: int = 1) -> Post:
    return Post(message_id=n, key=f"m{n}-hook-1", text=f"hello {n}", created_at=datetime.now(UTC))


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver(secret=SECRET) as r:
        yield r


async def channel(tmp_path: Path, url: str, **kw: object) -> WebhookChannel:
    opts = WebhookOptions(url=url, secret=SecretStr(SECRET), timeout=1.0, **kw)  # type: ignore[arg-type]
    ch = WebhookChannel(ChannelContext(name="hook", state_dir=tmp_path), opts)
    await ch.open()
    return ch


async def test_signed_post_and_receipt(tmp_path: Path, receiver: WebhookReceiver) -> None:
    ch = await channel(tmp_path, f"{receiver.server.url}/hook")
    try:
        got = await ch.send(post())
    finally:
        await ch.close()
    assert got.remote_id == "h1" and got.url == "https://hooks.example/1"
    [r] = receiver.received
    assert (
        r.status == 200
        and r.body["text"] == "hello 1"
        and r.headers["Idempotency-Key"] == "m1-hook-1"
    )
    # The documented scheme, recomputed here independently of the adapter.
    signed = (r.headers["X-Failover-Timestamp"] + ".").encode() + r.raw
    want = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert r.headers["X-Failover-Signature"] == f"sha256={want}"


async def test_wrong_secret_is_a_permanent_credentials_error(tmp_path: Path) -> None:
    async with WebhookReceiver(secret="another-secret") as other:
        ch = await channel(tmp_path, f"{other.server.url}/hook")
        try:
            with pytest.raises(PermanentError) as info:
                await ch.send(post())
        finally:
            await ch.close()
    assert info.value.credentials and info.value.status == 401


@pytest.mark.parametrize(
    ("status", "error", "retry_after"),
    [(503, TransientError, None), (429, RateLimitedError, 7), (400, PermanentError, None)],
)
async def test_answers_map_to_the_error_hierarchy(
    tmp_path: Path,
    receiver: WebhookReceiver,
    status: int,
    error: type[Exception],
    retry_after: int | None,
) -> None:
    receiver.fail_next(1, status=status, retry_after=retry_after)
    ch = await channel(tmp_path, f"{receiver.server.url}/hook")
    try:
        with pytest.raises(error) as info:
            await ch.send(post())
    finally:
        await ch.close()
    assert f"HTTP {status}" in str(info.value)
    if isinstance(info.value, RateLimitedError):
        assert info.value.retry_after == 7
    if type(info.value) is TransientError:
        assert not info.value.maybe_delivered


async def test_http_date_retry_after(tmp_path: Path) -> None:
    later = datetime.now(UTC).timestamp() + 120

    async def limited(request: web.Request) -> web.Response:
        when = format_datetime(datetime.fromtimestamp(later, UTC), usegmt=True)
        return web.Response(status=429, headers={"Retry-After": when})

    app = web.Application()
    app.router.add_post("/hook", limited)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    ch = await channel(tmp_path, f"http://127.0.0.1:{port}/hook")
    try:
        with pytest.raises(RateLimitedError) as info:
            await ch.send(post())
    finally:
        await ch.close()
        await runner.cleanup()
    assert 100 < info.value.retry_after <= 121


async def test_refused_is_not_ambiguous_but_a_hang_or_reset_is(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    ch = await channel(tmp_path, f"{receiver.server.url}/hook")
    try:
        await receiver.server.stop_listening()
        with pytest.raises(TransientError) as refused:
            await ch.send(post(1))
        assert not refused.value.maybe_delivered
        await receiver.server.resume_listening()
        receiver.server.set_fault(Fault.HANG)
        with pytest.raises(TransientError) as hung:
            await ch.send(post(2))
        assert hung.value.maybe_delivered
        receiver.server.set_fault(Fault.RESET)
        with pytest.raises(TransientError) as reset:
            await ch.send(post(3))
        assert reset.value.maybe_delivered
    finally:
        await ch.close()


async def test_check_reaches_the_endpoint(tmp_path: Path, receiver: WebhookReceiver) -> None:
    ch = await channel(tmp_path, f"{receiver.server.url}/hook")
    try:
        assert (await ch.check()).ok
        await receiver.server.stop_listening()
        result = await ch.check()
        assert not result.ok and "unreachable" in result.detail
    finally:
        await ch.close()
