"""Apprise to local endpoints it supports: json:// to an aiohttp server, mailto:// to aiosmtpd."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from channels.apprise_urls import AppriseChannel, AppriseOptions
from channels.base import ChannelContext, PermanentError, Post, TransientError
from tests.peers.json_receiver import JsonReceiver
from tests.peers.smtp_server import Sink, smtp_server
from tests.secrets_registry import secret

PASS = secret("sekrit-pass-77")


def post() -> Post:
    return Post(message_id=1, key="m1-apprise-1", text="Checkout is slow; we are on it.",
                title="Incident", link="https://status.acme.example/", created_at=datetime.now(UTC))  # fmt: skip


@pytest.fixture
async def receiver() -> AsyncIterator[JsonReceiver]:
    async with JsonReceiver() as r:
        yield r


async def channel(tmp_path: Path, *urls: str) -> AppriseChannel:
    ch = AppriseChannel(ChannelContext(name="apprise", state_dir=tmp_path),
                        AppriseOptions(urls=[SecretStr(u) for u in urls], timeout=3))  # fmt: skip
    await ch.open()
    return ch


def json_url(receiver: JsonReceiver, path: str) -> str:
    return f"json://127.0.0.1:{receiver.server.port}{path}"


async def test_json_and_mailto_both_arrive(tmp_path: Path, receiver: JsonReceiver) -> None:
    sink = Sink()
    with smtp_server(sink) as port:
        mail = (
            f"mailto://127.0.0.1:{port}?from=status@acme.example&to=ops@acme.example&mode=insecure"
        )
        ch = await channel(tmp_path, json_url(receiver, "/teams"), mail)
        got = await ch.send(post())
    [teams] = receiver.at("/teams")
    assert teams["title"] == "Incident"
    assert teams["message"] == "Checkout is slow; we are on it.\n\nhttps://status.acme.example/"
    [m] = sink.received
    assert m.rcpt_tos == ["ops@acme.example"] and m.message["Subject"] == "Incident"
    assert got.note == "2 of 2 services" and set(got.extra["urls"].values()) == {"sent"}


async def test_one_failing_url_is_retried_alone(tmp_path: Path, receiver: JsonReceiver) -> None:
    ch = await channel(tmp_path, json_url(receiver, "/a"), json_url(receiver, "/b"))
    receiver.fail["/b"] = 500
    with pytest.raises(TransientError) as info:
        await ch.send(post())
    assert "1 of 2 services failed" in info.value.reason
    assert info.value.progress["sent"] == [0]
    del receiver.fail["/b"]
    got = await ch.send(dataclasses.replace(post(), progress=info.value.progress))
    assert len(receiver.at("/a")) == 1 and len(receiver.at("/b")) == 1  # /a not twice
    assert "sent (earlier attempt)" in got.extra["urls"].values()


async def test_unreachable_service_is_transient(tmp_path: Path, receiver: JsonReceiver) -> None:
    ch = await channel(tmp_path, json_url(receiver, "/x"))
    await receiver.server.stop_listening()
    with pytest.raises(TransientError, match="failure"):
        await ch.send(post())


async def test_bad_url_is_refused_at_open_without_showing_it(tmp_path: Path) -> None:
    with pytest.raises(PermanentError) as info:
        await channel(tmp_path, "nosuchscheme://token-abc123@host")
    assert "urls[0]" in info.value.reason and "token-abc123" not in info.value.reason


async def test_masked_urls_never_show_tokens(tmp_path: Path, receiver: JsonReceiver) -> None:
    url = f"json://user:{PASS}@127.0.0.1:{receiver.server.port}/p"
    ch = await channel(tmp_path, url)
    got = await ch.send(post())
    assert "sekrit-pass-77" not in str(got.extra) and "sekrit-pass-77" not in (got.note or "")
    assert (await ch.check()).ok
