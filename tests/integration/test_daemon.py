"""The spine end to end, in process: API -> store -> scheduler -> dispatcher -> webhook receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.harness import Harness, start_daemon, write_config
from tests.peers.webhook_receiver import WebhookReceiver
from tests.secrets_registry import secret

SECRET = secret("whsec-test-0123456789")


def config(receiver: WebhookReceiver, extra: str = "", route: str = "") -> str:
    return f"""
    [channels.hook]
    type = "webhook"
    url = "{receiver.server.url}/hook"
    secret = "${{TEST_HOOK_SECRET}}"
    timeout = 2
    {extra}

    [channels.status]
    type = "feed"

    [routes.default]
    tiers = [["hook"], ["status"]]
    {route}

    [routes.hook-only]
    tiers = [["hook"]]
    {route}
    """


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver(secret=SECRET) as r:
        yield r


@pytest.fixture
async def daemon(
    tmp_path: Path, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)
    h = await start_daemon(write_config(tmp_path, config(receiver)))
    yield h
    await h.daemon.stop()


def iso(dt: datetime) -> str:
    return dt.isoformat()


async def test_delivered_once_with_signature_and_receipt(
    daemon: Harness, receiver: WebhookReceiver
) -> None:
    m = await daemon.post(text="Checkout is slow; we are on it.", route="hook-only")
    assert m["state"] in ("queued", "delivered") and m["deliveries"][0]["channel"] == "hook"
    done = await daemon.wait_state(m["id"], "delivered")
    [d] = done["deliveries"]
    assert (
        d["state"] == "delivered"
        and d["attempts"] == 1
        and d["url"].startswith("https://hooks.example/")
    )
    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert got.body["text"] == "Checkout is slow; we are on it."
    assert got.body["message_id"] == m["id"]


async def test_transient_failures_then_success(daemon: Harness, receiver: WebhookReceiver) -> None:
    receiver.fail_next(2, status=503)
    m = await daemon.post(text="retry me", route="hook-only")
    done = await daemon.wait_state(m["id"], "delivered")
    d = done["deliveries"][0]
    assert d["attempts"] == 3
    assert [a["outcome"] for a in d["history"]] == ["transient", "transient", "delivered"]
    # Every attempt carried the same idempotency key, so the receiver can de-duplicate.
    assert len(set(receiver.keys())) == 1 and len(receiver.keys()) == 3


async def test_retry_after_is_honoured(daemon: Harness, receiver: WebhookReceiver) -> None:
    receiver.fail_next(1, status=429, retry_after=2)
    m = await daemon.post(text="rate limited", route="hook-only")
    done = await daemon.wait_state(m["id"], "delivered")
    first, second = done["deliveries"][0]["history"]
    assert first["outcome"] == "rate_limited" and first["status"] == 429
    gap = datetime.fromisoformat(second["at"]) - datetime.fromisoformat(first["at"])
    assert gap >= timedelta(seconds=2), gap


async def test_permanent_failure_is_not_retried_and_reroutes(
    daemon: Harness, receiver: WebhookReceiver
) -> None:
    receiver.fail_next(5, status=400)
    m = await daemon.post(text="refused by the hook")
    done = await daemon.wait_message(
        m["id"],
        lambda m: any(
            d["channel"] == "status" and d["state"] == "delivered" for d in m["deliveries"]
        ),
    )
    hook = next(d for d in done["deliveries"] if d["channel"] == "hook")
    assert hook["state"] == "failed" and hook["attempts"] == 1 and "400" in hook["last_error"]
    assert len(receiver.received) == 1
    status, events = await daemon.request("GET", f"/api/v1/events?message_id={m['id']}")
    kinds = [e["kind"] for e in events["items"]]
    assert "message.rerouted" in kinds and "delivery.failed" in kinds
    # The public page now carries the rerouted message.
    index = (daemon.daemon.runtime.public_dir() / "index.html").read_text()  # type: ignore[operator]
    assert "refused by the hook" in index


async def test_expired_message_is_never_sent(daemon: Harness, receiver: WebhookReceiver) -> None:
    await receiver.server.stop_listening()
    now = datetime.now(UTC)
    m = await daemon.post(
        text="flash sale ends soon", route="hook-only", expires_at=iso(now + timedelta(seconds=1))
    )
    done = await daemon.wait_state(m["id"], "expired", timeout=10)
    assert done["deliveries"][0]["state"] == "expired"
    await receiver.server.resume_listening()
    await asyncio.sleep(0.3)
    assert receiver.received == []


async def test_expiry_in_the_past_is_refused(daemon: Harness) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    status, body = await daemon.request(
        "POST",
        "/api/v1/messages",
        role="publisher",
        json={"text": "old news", "expires_at": iso(past)},
    )
    assert (
        status == 422
        and body["field"] == "expires_at"
        and body["detail"] == "expires_at: is in the past"
    )
    status, body = await daemon.request("GET", "/api/v1/messages")
    assert body["items"] == []


async def test_schedule_then_cancel(daemon: Harness, receiver: WebhookReceiver) -> None:
    at = datetime.now(UTC) + timedelta(seconds=1)
    m = await daemon.post(text="maybe later", route="hook-only", scheduled_at=iso(at))
    assert m["state"] == "scheduled"
    status, body = await daemon.request(
        "POST", f"/api/v1/messages/{m['id']}/cancel", role="publisher"
    )
    assert status == 200 and body["state"] == "cancelled"
    assert body["deliveries"][0]["state"] == "cancelled"
    await asyncio.sleep(1.5)  # past the scheduled time: still nothing sent
    assert receiver.received == []
    status, again = await daemon.request(
        "POST", f"/api/v1/messages/{m['id']}/cancel", role="publisher"
    )
    assert status == 409


async def test_scheduled_message_waits_for_its_time(
    daemon: Harness, receiver: WebhookReceiver
) -> None:
    at = datetime.now(UTC) + timedelta(seconds=1)
    m = await daemon.post(text="on time", route="hook-only", scheduled_at=iso(at))
    await daemon.wait_state(m["id"], "delivered")
    assert receiver.received[0].at >= at.timestamp()


async def test_naive_schedule_time_is_refused(daemon: Harness) -> None:
    status, body = await daemon.request(
        "POST",
        "/api/v1/messages",
        role="publisher",
        json={"text": "x", "scheduled_at": "2030-01-01T09:00:00"},
    )
    assert status == 422 and body["field"] == "scheduled_at"
    assert "timezone" in body["detail"].lower() or "time zone" in body["detail"].lower()


async def test_api_auth_and_roles(daemon: Harness) -> None:
    status, body = await daemon.request("POST", "/api/v1/messages", role=None, json={"text": "x"})
    assert status == 401 and body["title"] == "Unauthorized"
    status, body = await daemon.request(
        "POST",
        "/api/v1/messages",
        role=None,
        json={"text": "x"},
        headers={"Authorization": "Bearer fo_not-a-real-token"},
    )
    assert status == 401
    status, body = await daemon.request(
        "POST", "/api/v1/messages", role="viewer", json={"text": "x"}
    )
    assert status == 403 and "publisher" in body["detail"]
    status, body = await daemon.request(
        "POST", "/api/v1/channels/hook/force", role="publisher", json={"state": "down"}
    )
    assert status == 403
    status, body = await daemon.request("GET", "/api/v1/messages", role="viewer")
    assert status == 200


async def test_bad_input_names_the_field_and_stores_nothing(daemon: Harness) -> None:
    cases = [
        ({"text": ""}, "text"),
        ({"text": "x", "route": "nope"}, "route"),
        ({"text": "x", "link": "javascript:alert(1)"}, "link"),
        ({"text": "x", "overrides": {"ghost": "y"}}, "overrides.ghost"),
        ({"text": "x", "images": [{"data": "%%%", "content_type": "image/png"}]}, "images.0.data"),
        ({"text": "x", "colour": "red"}, "colour"),
        ({"text": "x", "thread": 999}, "thread"),
    ]
    for body, field in cases:
        status, problem = await daemon.request(
            "POST", "/api/v1/messages", role="publisher", json=body
        )
        assert status == 422, (body, problem)
        assert problem["field"] == field, (body, problem)
    status, data = await daemon.request("GET", "/api/v1/messages")
    assert data["items"] == []


async def test_idempotency_key(daemon: Harness) -> None:
    key = {"Idempotency-Key": "campaign-42"}
    first = await daemon.post(text="once", headers=key)
    status, again = await daemon.request(
        "POST", "/api/v1/messages", role="publisher", json={"text": "once"}, headers=key
    )
    assert status == 200 and again["id"] == first["id"]
    status, clash = await daemon.request(
        "POST", "/api/v1/messages", role="publisher", json={"text": "other"}, headers=key
    )
    assert status == 409
    status, data = await daemon.request("GET", "/api/v1/messages")
    assert len(data["items"]) == 1


async def test_restart_keeps_a_pending_retry(
    tmp_path: Path, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)
    path = write_config(tmp_path, config(receiver))
    h = await start_daemon(path)
    receiver.fail_next(1, status=429, retry_after=3)
    m = await h.post(text="survive a restart", route="hook-only")
    await h.wait_message(m["id"], lambda m: m["deliveries"][0]["attempts"] == 1)
    tokens = h.tokens
    await h.daemon.stop()
    h2 = await start_daemon(path, tokens=tokens)
    try:
        done = await h2.wait_state(m["id"], "delivered", timeout=15)
        d = done["deliveries"][0]
        assert d["attempts"] == 2
        first, second = d["history"]
        assert datetime.fromisoformat(second["at"]) - datetime.fromisoformat(
            first["at"]
        ) >= timedelta(seconds=3)
        assert len(receiver.received) == 2
    finally:
        await h2.daemon.stop()


async def test_channels_and_status_show_unavailable_channel(
    tmp_path: Path, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_HOOK_SECRET", raising=False)
    h = await start_daemon(write_config(tmp_path, config(receiver)))
    try:
        status, body = await h.request("GET", "/api/v1/channels", role="viewer")
        hook = next(c for c in body["items"] if c["name"] == "hook")
        assert hook["available"] is False and "TEST_HOOK_SECRET" in hook["problem"]
        m = await h.post(text="hook is unavailable")
        states = {d["channel"]: d["state"] for d in m["deliveries"]}
        assert states == {"hook": "skipped", "status": "pending"} or states == {
            "hook": "skipped",
            "status": "delivered",
        }
        await h.wait_state(m["id"], "delivered")
    finally:
        await h.daemon.stop()


async def test_forced_down_reroutes_new_messages(
    daemon: Harness, receiver: WebhookReceiver
) -> None:
    status, body = await daemon.request(
        "POST", "/api/v1/channels/hook/force", role="operator", json={"state": "down"}
    )
    assert status == 200 and body["health"] == "down" and body["forced"] == "down"
    m = await daemon.post(text="hook forced down")
    assert {d["channel"]: d["state"] for d in m["deliveries"]}["hook"] == "skipped"
    await daemon.wait_state(m["id"], "delivered")
    assert receiver.received == []
    status, events = await daemon.request("GET", "/api/v1/events?channel=hook")
    forced = [e for e in events["items"] if e["kind"] == "channel.forced"]
    assert forced and forced[0]["actor"] == "token:test-operator"


async def test_reload_good_and_bad(daemon: Harness, receiver: WebhookReceiver) -> None:
    path = daemon.daemon.config.source
    assert path is not None
    original = path.read_text()
    path.write_text(
        original.replace(
            "[routes.hook-only]", '[routes.extra]\ntiers = [["status"]]\n\n[routes.hook-only]'
        )
    )
    assert await daemon.daemon.reload()
    assert "extra" in daemon.daemon.config.routes
    path.write_text(original + '\n[channels.broken]\ntype = "nonsense"\n')
    assert not await daemon.daemon.reload()
    assert "extra" in daemon.daemon.config.routes  # the running config stayed
    status, events = await daemon.request("GET", "/api/v1/events")
    assert "config.reload_refused" in [e["kind"] for e in events["items"]]
    m = await daemon.post(text="still working", route="extra")
    await daemon.wait_state(m["id"], "delivered")


async def test_healthz_and_readyz(daemon: Harness) -> None:
    status, body = await daemon.request("GET", "/healthz", role=None)
    assert status == 200 and body == {"status": "ok"}
    status, body = await daemon.request("GET", "/readyz", role=None)
    assert status == 200 and body == {"status": "ready"}
