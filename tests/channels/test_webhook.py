"""The signed webhook: signature, idempotency key, and answers mapped to the error hierarchy."""

from __future__ import annotations

import hashlib
import hmac
import time
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
from channels.webhook_fanout import HookCopy, HookTarget
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


class Hooks:
    """A HookSource that hands out one hook and keeps what it is told."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.results: list[tuple[str, object, object]] = []

    async def targets(self, post: Post) -> list[HookTarget]:
        return [HookTarget("7", self.url, SECRET)]

    async def result(self, key: str, error: object, copy: object) -> None:
        self.results.append((key, error, copy))


async def fan_out_channel(tmp_path: Path, source: Hooks) -> WebhookChannel:
    opts = WebhookOptions(recipients_from="subscribers", timeout=1.0, headers={"X-Team": "ops"})
    ch = WebhookChannel(ChannelContext(name="hooks", state_dir=tmp_path), opts)
    ch.source = source
    await ch.open()
    return ch


@pytest.mark.parametrize(
    ("status", "retry_after", "kind"),
    [
        (503, None, TransientError), (500, None, TransientError), (408, None, TransientError),
        (429, 120, RateLimitedError), (503, 90, RateLimitedError), (404, None, PermanentError),
        (410, None, PermanentError), (400, None, PermanentError),
    ],
)  # fmt: skip
async def test_a_failed_hook_is_handed_back_with_its_copy_and_the_kind_of_failure(
    tmp_path: Path, receiver: WebhookReceiver, status: int, retry_after: int | None, kind: type
) -> None:
    hooks = Hooks(f"{receiver.server.url}/hook")
    ch = await fan_out_channel(tmp_path, hooks)
    receiver.fail_next(1, status=status, retry_after=retry_after)
    try:
        receipt = await ch.send(post(3))  # the delivery succeeds: one hook is not the channel
    finally:
        await ch.close()
    assert receipt.extra == {"sent": 0, "failed": 1}
    [(key, error, copy)] = hooks.results
    assert key == "7" and type(error) is kind and error.status == status  # type: ignore[attr-defined]
    if retry_after is not None:
        assert error.retry_after == retry_after  # type: ignore[attr-defined]
    assert copy == HookCopy(3, "m3-hook-1", receiver.received[0].raw)


async def test_a_missed_copy_is_sent_again_unchanged_and_signed_anew(
    tmp_path: Path, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = Hooks(f"{receiver.server.url}/hook")
    ch = await fan_out_channel(tmp_path, hooks)
    receiver.fail_next(1)
    try:
        await ch.send(post(4))
        [(_, _, copy)] = hooks.results
        assert isinstance(copy, HookCopy)
        later = time.time() + 120  # two minutes on (for the receiver too): a new timestamp
        monkeypatch.setattr(time, "time", lambda: later)
        error = await ch.resend(HookTarget("7", hooks.url, SECRET), copy, claim="d1 hook-retry/1/2")
    finally:
        await ch.close()
    first, again = receiver.received
    assert error is None and (first.status, again.status) == (503, 200)
    assert again.raw == first.raw  # the same bytes
    for name in ("Idempotency-Key", "X-Team", "Content-Type"):
        assert again.headers[name] == first.headers[name]
    assert int(again.headers["X-Failover-Timestamp"]) >= int(first.headers["X-Failover-Timestamp"]) + 119  # fmt: skip
    assert again.headers["Failover-Claim"] == "d1 hook-retry/1/2"


async def test_an_unreachable_hook_is_transient(tmp_path: Path) -> None:
    from tests.harness import free_port

    hooks = Hooks(f"http://127.0.0.1:{free_port()}/hook")
    ch = await fan_out_channel(tmp_path, hooks)
    try:
        await ch.send(post(5))
    finally:
        await ch.close()
    [(_, error, _)] = hooks.results
    assert type(error) is TransientError and error.status is None
