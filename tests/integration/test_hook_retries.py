"""Webhook subscribers get a missed update again, on a real daemon against a real receiver:
the same body and Idempotency-Key, re-signed; given up after the schedule; kept across a
restart; sent once by two daemons sharing PostgreSQL. The schedule runs on a FakeClock: the
test moves it past each step and wakes the retry loop, nothing sleeps for minutes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from failover.clock import FakeClock
from tests.harness import Harness, eventually, start_daemon, write_config
from tests.peers.postgres_db import throwaway_database
from tests.peers.webhook_receiver import WebhookReceiver
from tests.secrets_registry import secret
from tests.web.web_session import login

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRET = secret("whsec-retry-test-0123456789")
BODY = """
[channels.hooks]
type = "webhook"
recipients_from = "subscribers"
timeout = 2

[routes.default]
mode = "broadcast"
tiers = [["hooks"]]

[subscribers]
hook_notice_after = 100
"""
STEPS = (30, 120, 600, 1800)  # the default schedule; each wait is stretched by up to 10%


async def add_hook(h: Harness, receiver: WebhookReceiver) -> int:
    status, body = await h.request("POST", "/api/v1/subscribers", json={
        "url": f"{receiver.server.url}/hook", "secret": SECRET,
    })  # fmt: skip
    assert status == 201, body
    return int(body["id"])


async def publish(h: Harness, text: str) -> int:
    msg = await h.post(text=text)
    await h.wait_state(msg["id"], "delivered")  # a hook that fails never fails the delivery
    return int(msg["id"])


async def pending(h: Harness, subscriber_id: int) -> int:
    _, body = await h.request("GET", "/api/v1/subscribers")
    return int(next(s for s in body["items"] if s["id"] == subscriber_id)["retries_pending"])


async def step(clock: FakeClock, seconds: float, *daemons: Harness) -> None:
    clock.advance(seconds)
    for h in daemons:
        h.daemon.hook_retries.wake()


async def gave_up(h: Harness) -> list[dict[str, Any]]:
    return [
        {"message_id": e.message_id, **e.detail}
        for e in await h.daemon.store.events(limit=1000)
        if e.kind == "subscriber.hook_gave_up"
    ]


async def test_a_hook_down_at_first_gets_the_update_on_retry_unchanged(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with WebhookReceiver(secret=SECRET) as receiver:
        h = await start_daemon(write_config(tmp_path, BODY), clock=clock)
        try:
            hook = await add_hook(h, receiver)
            receiver.fail_next(1, status=503)
            await publish(h, "Investigating: logins fail")
            assert [r.status for r in receiver.received] == [503]
            assert await pending(h, hook) == 1
            row = await h.daemon.store.sub_get(hook)
            assert row is not None and row.failures == 1
            session, _ = await login(h.url, h.tokens["admin"])
            async with session, session.get(h.url + "/ui/subscribers") as page:
                assert "1 missed update to send again" in await page.text()
            await step(clock, 29, h)  # not before its time
            await asyncio.sleep(0.3)
            assert len(receiver.received) == 1
            await step(clock, 5, h)
            await eventually(lambda: len(receiver.delivered()) == 1)
            first, again = receiver.received
            assert again.raw == first.raw and again.body["text"] == "Investigating: logins fail"
            assert again.headers["Idempotency-Key"] == first.headers["Idempotency-Key"]
            assert again.headers["Failover-Claim"] != first.headers["Failover-Claim"]

            async def reset() -> bool:
                row = await h.daemon.store.sub_get(hook)
                return row is not None and row.failures == 0 and row.last_error is None

            await eventually(reset)  # a hook that took a retry starts its count again
            assert await pending(h, hook) == 0 and await gave_up(h) == []
        finally:
            await h.daemon.stop()


async def test_a_hook_that_stays_down_is_given_up_after_the_schedule(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    async with WebhookReceiver(secret=SECRET) as down, WebhookReceiver(secret=SECRET) as gone:
        h = await start_daemon(write_config(tmp_path, BODY), clock=clock)
        try:
            hook, dead = await add_hook(h, down), await add_hook(h, gone)
            down.fail_next(100, status=503)
            gone.fail_next(100, status=410)  # permanent: not retried
            message = await publish(h, "Identified: a bad deploy")
            assert len(gone.received) == 1 and await pending(h, dead) == 0
            for n, seconds in enumerate(STEPS, start=2):
                await step(clock, seconds * 1.1 + 1, h)
                await eventually(lambda n=n: len(down.received) == n)  # type: ignore[misc]
            await eventually(lambda: _gave_up_count(h, 2))
            events = sorted(await gave_up(h), key=lambda e: e["subscriber"])
            assert [(e["subscriber"], e["attempts"], e["status"], e["message_id"]) for e in events] == [
                (hook, 5, 503, message), (dead, 1, 410, message),
            ]  # fmt: skip
            assert await pending(h, hook) == 0
            await step(clock, 7200, h)
            await asyncio.sleep(0.3)
            assert len(down.received) == 5 and len(gone.received) == 1  # nothing after
            assert {r.headers["Idempotency-Key"] for r in down.received} == {
                down.received[0].headers["Idempotency-Key"]
            }
            row = await h.daemon.store.sub_get(hook)
            assert row is not None and row.failures == 5 and row.last_error == "HTTP 503"
        finally:
            await h.daemon.stop()


async def _gave_up_count(h: Harness, n: int) -> bool:
    return len(await gave_up(h)) == n


async def test_a_hook_erased_meanwhile_is_not_retried(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from failover.cli import main

    clock = FakeClock(T0)
    async with WebhookReceiver(secret=SECRET) as receiver:
        h = await start_daemon(write_config(tmp_path, BODY), clock=clock)
        try:
            hook = await add_hook(h, receiver)
            receiver.fail_next(1)
            await publish(h, "Monitoring")
            assert await pending(h, hook) == 1
            argv = ["subscribers", "--url", h.url, "--token", h.tokens["admin"], "list"]
            assert await asyncio.to_thread(main, argv) == 0
            assert "[all]  (1 to send again)" in capsys.readouterr().out
            assert (await h.request("DELETE", f"/api/v1/subscribers/{hook}"))[0] == 204
            await step(clock, 3600, h)
            await asyncio.sleep(0.3)
            assert len(receiver.received) == 1 and await h.daemon.store.hook_retry_counts() == {}
        finally:
            await h.daemon.stop()


async def test_a_restart_between_the_attempt_and_the_retry_still_retries(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    path = write_config(tmp_path, BODY)
    async with WebhookReceiver(secret=SECRET) as receiver:
        h = await start_daemon(path, clock=clock)
        try:
            await add_hook(h, receiver)
            receiver.fail_next(1)
            await publish(h, "Investigating")
        finally:
            await h.daemon.stop()
        clock.advance(60)  # the retry fell due while no daemon ran
        h = await start_daemon(path, clock=clock, tokens=h.tokens)
        try:
            await eventually(lambda: len(receiver.delivered()) == 1)
            first, again = receiver.received
            assert again.raw == first.raw
            assert again.headers["Idempotency-Key"] == first.headers["Idempotency-Key"]
        finally:
            await h.daemon.stop()


async def test_two_daemons_on_one_postgresql_send_a_retry_once(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    with throwaway_database() as dsn:
        paths = []
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            path = write_config(tmp_path / name, BODY)
            path.write_text(f'store = "{dsn}"\n' + path.read_text())
            paths.append(path)
        async with WebhookReceiver(secret=SECRET) as receiver:
            a = await start_daemon(paths[0], clock=clock)
            b = await start_daemon(paths[1], clock=clock, tokens=a.tokens)
            try:
                await add_hook(b, receiver)
                receiver.fail_next(1)
                await publish(b, "Investigating")
                assert len(receiver.received) == 1
                await step(clock, 40, a, b)
                # Both send what is due at once, leader or not: the claim lets one of them.
                sent = await asyncio.gather(
                    a.daemon.hook_retries.run_due(), b.daemon.hook_retries.run_due()
                )
                await eventually(lambda: len(receiver.delivered()) == 1)
                for _ in range(5):  # both loops turn a few more times: nothing more is sent
                    await step(clock, 120, a, b)
                    await asyncio.sleep(0.1)
                assert len(receiver.received) == 2 and sum(sent) <= 1
                assert await a.daemon.store.hook_retry_counts() == {}
            finally:
                await b.daemon.stop()
                await a.daemon.stop()
