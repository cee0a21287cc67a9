"""Subscribers end to end on a real daemon: aiosmtpd receives the mails, webhook receivers
check the signatures, and every request goes through the daemon's HTTP server."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.harness import Harness, eventually, start_daemon, write_config
from tests.peers.smtp_server import Received, Sink, smtp_server
from tests.peers.webhook_receiver import WebhookReceiver

LINK = re.compile(r"(http://\S+/status/subscribe/confirm\?token=\S+)")


def config(smtp_port: int, extra: str = "") -> str:
    return f"""
    [channels.mail]
    type = "email"
    host = "127.0.0.1"
    port = {smtp_port}
    security = "none"
    from_address = "status@acme.example"
    recipients_from = "subscribers"

    [channels.hooks]
    type = "webhook"
    recipients_from = "subscribers"
    timeout = 2

    [routes.default]
    mode = "broadcast"
    tiers = [["mail", "hooks"]]

    [subscribers]
    per_address = 3
    per_source = 6
    hook_notice_after = 2
    {extra}
    """


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    s = Sink()
    with smtp_server(s) as port:
        yield s, port


@pytest.fixture
async def daemon(tmp_path: Path, sink: tuple[Sink, int]) -> AsyncIterator[Harness]:
    h = await start_daemon(write_config(tmp_path, config(sink[1])))
    yield h
    await h.daemon.stop()


async def form(h: Harness, path: str, data: dict[str, Any] | list[tuple[str, str]]) -> tuple[int, str, dict[str, str]]:  # fmt: skip
    async with aiohttp.ClientSession() as s, s.post(h.url + path, data=data) as r:
        return r.status, await r.text(), dict(r.headers)


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, await r.text()


def mails_to(sink: Sink, address: str) -> list[Received]:
    return [m for m in sink.received if address in m.rcpt_tos]


def confirm_link(mail: Received) -> str:
    body = mail.message.get_body(preferencelist=("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found is not None, body.get_content()
    return found.group(1)


async def subscribe_and_confirm(h: Harness, sink: Sink, address: str) -> None:
    status, _, _ = await form(h, "/status/subscribe", {"email": address})
    assert status == 200
    await eventually(lambda: len(mails_to(sink, address)) == 1)
    token = confirm_link(mails_to(sink, address)[0]).split("token=", 1)[1]
    status, text, _ = await form(h, "/status/subscribe/confirm", {"token": token})
    assert status == 200 and "You are subscribed" in text


async def publish(h: Harness, text: str) -> dict[str, Any]:
    msg = await h.post(text=text)
    return await h.wait_state(msg["id"], "delivered", "partially_delivered", "failed")


async def mail_receipt(h: Harness, message_id: int) -> dict[str, Any]:
    """What the email channel reported for a message (``extra`` of its receipt)."""
    found = [d for d in await h.daemon.store.deliveries(message_id) if d.channel == "mail"]
    return dict(found[0].receipt["parts"][0]["extra"])


async def test_double_opt_in_then_one_click_unsubscribe(daemon: Harness, sink: tuple[Sink, int]) -> None:  # fmt: skip
    smtp, h = sink[0], daemon
    status, text, _ = await form(h, "/status/subscribe", {"email": "Ann@Example.com"})
    assert status == 200 and "Check your inbox" in text
    await eventually(lambda: len(mails_to(smtp, "ann@example.com")) == 1)
    await publish(h, "Before confirming: nothing reaches a pending address")
    assert len(mails_to(smtp, "ann@example.com")) == 1  # only the confirmation mail
    link = confirm_link(mails_to(smtp, "ann@example.com")[0])
    status, text = await get(link)  # a GET only shows the button (mail scanners follow links)
    assert status == 200 and 'id="confirm"' in text
    assert (await h.request("GET", "/api/v1/subscribers"))[1]["items"][0]["state"] == "pending"
    token = link.split("token=", 1)[1]
    status, text, _ = await form(h, "/status/subscribe/confirm", {"token": token})
    assert status == 200 and "You are subscribed" in text
    status, text, _ = await form(h, "/status/subscribe/confirm", {"token": token})
    assert status == 410 and "already used" in text  # the link works once
    assert (await get(link))[0] == 410

    await publish(h, "Investigating: the API is slow")
    update = mails_to(smtp, "ann@example.com")[-1].message
    assert "the API is slow" in update.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert update["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.fullmatch(r"<(http://\S+)>", update["List-Unsubscribe"])
    assert url is not None
    status, text = await get(url.group(1))
    assert status == 200 and 'id="unsubscribe"' in text  # a GET does not unsubscribe
    assert (await h.request("GET", "/api/v1/subscribers"))[1]["items"][0]["state"] == "confirmed"
    async with aiohttp.ClientSession() as s, s.post(
        url.group(1), data=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ) as r:  # fmt: skip
        assert r.status == 200 and "You are unsubscribed" in await r.text()
    copies = len(mails_to(smtp, "ann@example.com"))
    await publish(h, "Resolved")
    assert len(mails_to(smtp, "ann@example.com")) == copies


async def test_the_answer_never_says_whether_an_address_is_known_and_is_rate_limited(
    daemon: Harness, sink: tuple[Sink, int]
) -> None:
    h = daemon
    await subscribe_and_confirm(h, sink[0], "known@example.com")
    _, known, _ = await form(h, "/status/subscribe", {"email": "known@example.com"})
    _, unknown, _ = await form(h, "/status/subscribe", {"email": "new@example.com"})
    assert known == unknown
    assert (await form(h, "/status/subscribe", {"email": "known@example.com"}))[0] == 200
    status, text, headers = await form(h, "/status/subscribe", {"email": "known@example.com"})
    assert status == 429 and int(headers["Retry-After"]) > 0 and "Too many" in text  # per address
    for i in range(2):
        assert (await form(h, "/status/subscribe", {"email": f"x{i}@example.com"}))[0] == 200
    status, _, headers = await form(h, "/status/subscribe", {"email": "fresh@example.com"})
    assert status == 429 and "Retry-After" in headers  # per source: 6 requests from here
    status, text, _ = await form(h, "/status/subscribe", {"email": "not an address"})
    assert status == 422 and "not an email address" in text


async def test_an_expired_or_damaged_link_gets_a_clear_page(tmp_path: Path, sink: tuple[Sink, int]) -> None:  # fmt: skip
    h = await start_daemon(write_config(tmp_path, config(sink[1], 'confirm_within = "1s"')))
    try:
        await form(h, "/status/subscribe", {"email": "late@example.com"})
        await eventually(lambda: len(mails_to(sink[0], "late@example.com")) == 1)
        link = confirm_link(mails_to(sink[0], "late@example.com")[0])
        await asyncio.sleep(1.2)
        status, text = await get(link)
        assert status == 410 and "expired" in text
        token = link.split("token=", 1)[1]
        status, text, _ = await form(h, "/status/subscribe/confirm", {"token": token})
        assert status == 410 and "expired" in text
        status, text = await get(h.url + "/status/subscribe/confirm?token=garbage")
        assert status == 400 and "damaged" in text
        forged = re.sub(r"\.(\d+)\.", lambda m: f".{int(m[1]) + 3600}.", token, count=1)
        assert (await form(h, "/status/subscribe/confirm", {"token": forged}))[0] == 410
        items = (await h.request("GET", "/api/v1/subscribers"))[1]["items"]
        assert [s["state"] for s in items] == ["pending"]
    finally:
        await h.daemon.stop()


async def test_a_hard_bounce_suppresses_and_a_soft_one_is_retried(daemon: Harness, sink: tuple[Sink, int]) -> None:  # fmt: skip
    smtp, h = sink[0], daemon
    for address in ("gone@example.com", "busy@example.com", "fine@example.com"):
        await subscribe_and_confirm(h, smtp, address)
    smtp.refuse["gone@example.com"] = "550 5.1.1 no such user"
    smtp.refuse["busy@example.com"] = "450 4.2.1 mailbox busy"
    msg = await h.post(text="Identified: a bad deploy")
    await eventually(lambda: len(mails_to(smtp, "fine@example.com")) == 2)
    await asyncio.sleep(0.3)  # a retry or two meets the 450 again
    del smtp.refuse["busy@example.com"]
    done = await h.wait_state(msg["id"], "delivered", timeout=20)
    assert len(mails_to(smtp, "busy@example.com")) == 2  # confirmation + one update, after retry
    assert len(mails_to(smtp, "fine@example.com")) == 2  # never twice, despite the retries
    assert done["state"] == "delivered"
    refused = (await mail_receipt(h, msg["id"]))["refused"]
    assert refused == {"gone@example.com": "550 5.1.1 no such user"}
    states = {s["address"]: s["state"] for s in (await h.request("GET", "/api/v1/subscribers"))[1]["items"]}  # fmt: skip
    assert states["gone@example.com"] == "suppressed"
    second = await publish(h, "Resolved")
    receipt = await mail_receipt(h, second["id"])
    assert receipt["refused"] == {} and receipt["accepted"] == 2  # not tried again
    status, _, _ = await form(h, "/status/subscribe", {"email": "gone@example.com"})
    assert (
        status == 200 and len(mails_to(smtp, "gone@example.com")) == 1
    )  # the first confirmation only


async def test_webhook_subscribers_get_signed_updates_and_a_failing_one_is_reported(
    daemon: Harness, sink: tuple[Sink, int]
) -> None:
    h = daemon
    async with WebhookReceiver(secret="hook-secret-0123456789") as good, WebhookReceiver() as bad:
        status, body = await h.request("POST", "/api/v1/subscribers", json={
            "url": f"{good.server.url}/hook", "secret": "hook-secret-0123456789",
        })  # fmt: skip
        assert status == 201 and body["kind"] == "webhook" and body["state"] == "confirmed"
        status, body = await h.request("POST", "/api/v1/subscribers", json={
            "url": f"{bad.server.url}/hook", "contact_email": "ops@customer.example",
        })  # fmt: skip
        assert status == 201 and body["secret"].startswith("whsec_")
        bad.fail_next(10, status=500)
        for n in range(3):
            await publish(h, f"Update {n}")
        assert [r.body["text"] for r in good.delivered()] == ["Update 0", "Update 1", "Update 2"]
        assert len(bad.received) == 3 and bad.delivered() == []
        await eventually(lambda: len(mails_to(sink[0], "ops@customer.example")) == 1)
        await asyncio.sleep(0.2)
        assert (
            len(mails_to(sink[0], "ops@customer.example")) == 1
        )  # one notice, not one per failure
        notice = mails_to(sink[0], "ops@customer.example")[0].message
        assert "failed 2 times" in notice.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        status, body = await h.request("POST", "/api/v1/subscribers", json={"url": "ftp://x"})
        assert status == 422 and "url" in body["detail"]


async def test_csv_export_import_round_trip_and_erasure(daemon: Harness, sink: tuple[Sink, int]) -> None:  # fmt: skip
    smtp, h = sink[0], daemon
    await subscribe_and_confirm(h, smtp, "kept@example.com")
    await form(h, "/status/subscribe", [("email", "waiting@example.com"), ("components", "api")])
    headers = {"Authorization": f"Bearer {h.tokens['admin']}"}
    async with aiohttp.ClientSession() as s, s.get(h.url + "/api/v1/subscribers.csv", headers=headers) as r:  # fmt: skip
        assert r.status == 200 and r.content_type == "text/csv"
        exported = await r.text()
    assert exported.splitlines()[0] == "kind,address,state,components,contact_email,created_at,confirmed_at"  # fmt: skip
    assert (
        "kept@example.com,confirmed" in exported and "waiting@example.com,pending,api" in exported
    )
    for item in (await h.request("GET", "/api/v1/subscribers"))[1]["items"]:
        assert (await h.request("DELETE", f"/api/v1/subscribers/{item['id']}"))[0] == 204
    status, body = await h.request("GET", "/api/v1/subscribers")
    assert body["items"] == [] and body["counts"] == {"email": {}, "webhook": {}}
    assert (await h.request("DELETE", "/api/v1/subscribers/999"))[0] == 404
    before = len(smtp.received)
    async with aiohttp.ClientSession() as s, s.post(
        h.url + "/api/v1/subscribers/import", data=exported.encode(),
        headers={**headers, "Content-Type": "text/csv"},
    ) as r:  # fmt: skip
        assert r.status == 200
        assert await r.json() == {"imported": 2, "confirmed": 1, "invited": 1, "skipped": 0}
    await eventually(lambda: len(smtp.received) == before + 1)
    assert mails_to(smtp, "waiting@example.com")[-1].message["Subject"].startswith("Confirm")
    async with aiohttp.ClientSession() as s, s.get(h.url + "/api/v1/subscribers.csv", headers=headers) as r:  # fmt: skip
        assert await r.text() == exported  # the same rows, times and states after the trip
    bad = "address,state\nok@example.com,confirmed\nnope,confirmed\n"
    async with aiohttp.ClientSession() as s, s.post(
        h.url + "/api/v1/subscribers/import", data=bad.encode(),
        headers={**headers, "Content-Type": "text/csv"},
    ) as r:  # fmt: skip
        assert r.status == 422 and "line 3" in (await r.json())["detail"]
    assert (await h.request("GET", "/api/v1/subscribers"))[1]["counts"]["email"] == {"confirmed": 1, "pending": 1}  # fmt: skip


async def test_the_cli_lists_exports_imports_adds_a_hook_and_erases(
    daemon: Harness, sink: tuple[Sink, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from failover.cli import main

    h = daemon
    base = ["--url", h.url, "--token", h.tokens["admin"]]

    async def cli(*argv: str) -> tuple[int, str]:
        code = await asyncio.to_thread(main, ["subscribers", *base, *argv])
        return code, capsys.readouterr().out

    csv_file = tmp_path / "in.csv"
    csv_file.write_text(
        "address,state,components\nOne@Example.com,confirmed,api web\ntwo@example.com,,\n"
    )
    code, out = await cli("import", str(csv_file))
    assert code == 0 and "imported 2 (1 confirmed, 1 sent a confirmation mail)" in out
    await eventually(lambda: len(mails_to(sink[0], "two@example.com")) == 1)
    code, out = await cli("add-webhook", "https://hooks.example/in", "--contact", "ops@example.com")
    assert code == 0 and "whsec_" in out
    code, out = await cli("list")
    assert code == 0 and "one@example.com  [api,web]" in out
    assert "email: 2 (1 confirmed, 1 pending)" in out and "webhook: 1 (1 confirmed)" in out
    code, out = await cli("export")
    assert out.splitlines()[1].startswith("email,one@example.com,confirmed,api web,")
    code, out = await cli("--json", "list", "--kind", "email", "--state", "pending")
    pending = json.loads(out)["items"]
    assert [s["address"] for s in pending] == ["two@example.com"]
    code, out = await cli("delete", str(pending[0]["id"]))
    assert code == 0 and "erased" in out
    assert (
        await asyncio.to_thread(main, ["subscribers", *base, "delete", str(pending[0]["id"])]) == 3
    )


async def test_an_incident_update_reaches_only_the_subscribers_of_its_components(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    components = '\n[components.api]\nname = "API"\n\n[components.web]\nname = "Website"\n'
    h = await start_daemon(write_config(tmp_path, config(sink[1]) + components))
    try:
        await eventually(lambda: _components_ready(h))
        smtp = sink[0]
        for address, chosen in (("api@example.com", ["api"]), ("web@example.com", ["web"]),
                                ("all@example.com", [])):  # fmt: skip
            await form(h, "/status/subscribe", [("email", address)] + [("components", c) for c in chosen])  # fmt: skip
            await eventually(lambda a=address: len(mails_to(smtp, a)) == 1)  # type: ignore[misc]
            token = confirm_link(mails_to(smtp, address)[0]).split("token=", 1)[1]
            assert (await form(h, "/status/subscribe/confirm", {"token": token}))[0] == 200
        status, opened = await h.request("POST", "/api/v1/incidents", role="publisher", json={
            "title": "API errors", "body": "Some requests fail.", "impact": "major",
            "components": {"api": "partial_outage"},
        })  # fmt: skip
        assert status == 201, opened
        message_id = opened["updates"][0]["message_id"]
        assert await h.daemon.store.sub_message_components(message_id) == ["api"]
        await h.wait_state(message_id, "delivered")
        got = {a: len(mails_to(smtp, a)) - 1 for a in ("api@example.com", "web@example.com", "all@example.com")}  # fmt: skip
        assert got == {"api@example.com": 1, "web@example.com": 0, "all@example.com": 1}
        update = mails_to(smtp, "api@example.com")[-1].message
        assert update["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "API errors" in update.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    finally:
        await h.daemon.stop()


async def _components_ready(h: Harness) -> bool:
    return len(await h.daemon.store.list_components()) == 2
