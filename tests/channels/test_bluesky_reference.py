"""Bluesky against the real AT Protocol reference PDS, through the atproto SDK."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from channels.base import ChannelContext, Media, PermanentError, Post
from channels.bluesky import BlueskyChannel, BlueskyOptions, tid_for
from tests.peers.reference_pds import ReferencePds, reference_pds
from tests.peers.samples import PNG
from tests.secrets_registry import secret


@pytest.fixture(scope="module")
def pds() -> Iterator[ReferencePds]:
    with reference_pds() as running:
        secret(running.password)
        yield running


def post(text: str, n: int, **kw: Any) -> Post:
    return Post(message_id=n, key=f"m{n}-bluesky-1", text=text, created_at=datetime.now(UTC), **kw)


async def adapter(tmp_path: Path, pds: ReferencePds, password: str | None = None) -> BlueskyChannel:
    opts = BlueskyOptions(service=pds.url, handle=pds.handle,
                          app_password=SecretStr(password or pds.password), timeout=10)  # fmt: skip
    ch = BlueskyChannel(ChannelContext(name="bluesky", state_dir=tmp_path), opts)
    await ch.open()
    return ch


async def record(ch: BlueskyChannel, uri: str) -> dict[str, Any]:
    did, _, rkey = uri.removeprefix("at://").split("/")
    got = await ch._call(lambda c: c.com.atproto.repo.get_record(
        {"repo": did, "collection": "app.bsky.feed.post", "rkey": rkey}))  # fmt: skip
    return (
        dict(got.value.model_dump(by_alias=True))
        if hasattr(got.value, "model_dump")
        else dict(got.value)
    )


async def test_thread_with_facets_and_an_image(tmp_path: Path, pds: ReferencePds) -> None:
    ch = await adapter(tmp_path, pds)
    try:
        first = await ch.send(post("Störung 🚨 details: https://status.acme.example/i/1 #outage", 1,
                                   language="de", media=(Media(PNG, "image/png", alt="Error graph"),)))  # fmt: skip
        second = await ch.send(post("Update: fixed.", 2, reply_to=first, thread_root=first))
        stored = await record(ch, str(first.remote_id))
        reply = await record(ch, str(second.remote_id))
    finally:
        await ch.close()
    assert (
        first.url
        == f"https://bsky.app/profile/{pds.handle}/post/{first.remote_id.rsplit('/', 1)[1]}"
    )  # type: ignore[union-attr]
    text = stored["text"].encode()
    link = next(f for f in stored["facets"] if "uri" in f["features"][0])
    assert (
        text[link["index"]["byteStart"] : link["index"]["byteEnd"]]
        == b"https://status.acme.example/i/1"
    )
    assert stored["embed"]["images"][0]["alt"] == "Error graph"
    assert reply["reply"]["root"]["uri"] == first.remote_id


async def test_over_300_graphemes_is_refused_by_the_real_pds(
    tmp_path: Path, pds: ReferencePds
) -> None:
    ch = await adapter(tmp_path, pds)
    try:
        with pytest.raises(PermanentError, match="grapheme"):
            await ch.send(post("x" * 301, 3))
    finally:
        await ch.close()


async def test_a_repeated_post_is_not_written_twice(tmp_path: Path, pds: ReferencePds) -> None:
    ch = await adapter(tmp_path, pds)
    try:
        p = post("only once", 4)
        first = await ch.send(p)
        again = await ch.send(dataclasses.replace(p, uncertain=False))  # the record key collides
        uncertain = await ch.send(dataclasses.replace(p, uncertain=True))
    finally:
        await ch.close()
    assert first.remote_id == again.remote_id == uncertain.remote_id
    assert str(first.remote_id).endswith(tid_for(p))


async def test_saved_session_is_reused_without_the_password(
    tmp_path: Path, pds: ReferencePds
) -> None:
    ch = await adapter(tmp_path, pds)
    await ch.send(post("logs in once", 5))
    await ch.close()
    again = await adapter(tmp_path, pds, password="not-the-password")  # only the session works
    try:
        assert (await again.check()).ok
        await again.send(post("with the saved session", 6))
    finally:
        await again.close()
    assert again.logins == 0


async def test_retract_deletes_the_record_on_the_real_pds(
    tmp_path: Path, pds: ReferencePds
) -> None:
    ch = await adapter(tmp_path, pds)
    try:
        sent = await ch.send(post("Posted by mistake, retracting", 40))
        assert (await record(ch, str(sent.remote_id)))["text"] == "Posted by mistake, retracting"
        await ch.retract(sent)
        with pytest.raises(PermanentError):  # RecordNotFound
            await record(ch, str(sent.remote_id))
        await ch.retract(sent)  # already gone: no error
    finally:
        await ch.close()
