"""The daemon's fediverse actor followed by a real fediverse server (Fedify on Node 24).

Fedify looks the actor up by its handle (WebFinger over https, through a TLS front like a
reverse proxy), follows it with requests Fedify signs, and verifies our signature on every
delivery before recording it.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from failover.activitypub import admin
from tests.harness import Harness, eventually, free_port, start_daemon, write_config
from tests.peers.fedify_peer import FedifyPeer, fedify_peer
from tests.peers.samples import PNG
from tests.peers.tls_front import TlsFront

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, path


@pytest.fixture(scope="module")
def fedify(ca: tuple[trustme.CA, Path]) -> Iterator[FedifyPeer]:
    with fedify_peer(ca[1]) as peer:
        yield peer


def actor_config(tmp_path: Path) -> tuple[Path, int, int]:
    """A config whose actor is https://localhost:<tls>/users/status; (path, port, tls)."""
    port, tls = free_port(), free_port()
    path = write_config(tmp_path, """
    [channels.fedi]
    type = "activitypub"
    username = "status"
    retry_spacing = 0.002

    [routes.default]
    tiers = [["fedi"]]
    """, port=port)  # fmt: skip
    text = path.read_text().replace(f'"http://127.0.0.1:{port}"', f'"https://localhost:{tls}"', 1)
    path.write_text(text)
    return path, port, tls


@pytest.fixture
async def actor(tmp_path: Path, ca: tuple[trustme.CA, Path]) -> AsyncIterator[tuple[Harness, str]]:
    path, port, tls = actor_config(tmp_path)
    h = await start_daemon(path)
    try:
        async with TlsFront(tls, port, tmp_path, ca=ca[0]):
            yield h, f"localhost:{tls}"
    finally:
        await h.daemon.stop()


async def mine(peer: FedifyPeer, h: Harness, kind: str) -> list[dict[str, Any]]:
    me = h.daemon.fediverse.actor
    assert me is not None
    return [r for r in await peer.received() if r["kind"] == kind and r["actor"] == me.id]


async def followed(peer: FedifyPeer, h: Harness, host: str) -> str:
    found = await peer.call("follow", handle=f"@status@{host}")
    assert (found["type"], found["preferredUsername"]) == ("Service", "status")
    await eventually(lambda: _has(peer, h, "Accept", 1))
    return str(found["actor"])


async def _has(peer: FedifyPeer, h: Harness, kind: str, n: int) -> bool:
    return len(await mine(peer, h, kind)) >= n


async def test_follow_accept_then_a_thread_with_alt_text_and_a_content_warning(
    fedify: FedifyPeer, actor: tuple[Harness, str]
) -> None:
    h, host = actor
    await followed(fedify, h, host)
    accept = (await mine(fedify, h, "Accept"))[0]
    assert accept["object"].startswith(f"{fedify.origin}/follows/")
    assert (await h.daemon.store.ap_follower(fedify.actor)) is not None

    image = {"data": base64.b64encode(PNG).decode(), "content_type": "image/png", "alt": "Error rate graph"}  # fmt: skip
    first = await h.post(text="Checkout fails for some of you. #incident", content_warning="Outage", images=[image])  # fmt: skip
    await h.wait_state(first["id"], "delivered")
    reply = await h.post(text="Fixed: https://status.acme.example/i/1", thread=first["id"])
    await h.wait_state(reply["id"], "delivered")
    await eventually(lambda: _has(fedify, h, "Create", 2), timeout=20)

    notes = {r["note"]["id"]: r["note"] for r in await mine(fedify, h, "Create")}
    one = notes[f"https://{host}/users/status/posts/{first['id']}"]
    two = notes[f"https://{host}/users/status/posts/{reply['id']}"]
    assert (one["summary"], one["sensitive"]) == ("Outage", True)
    assert "Checkout fails for some of you." in one["content"]
    assert one["attachments"] == [{
        "type": "Document", "name": "Error rate graph", "mediaType": "image/png",
        "url": one["attachments"][0]["url"],
    }]  # fmt: skip
    assert {"type": "Hashtag", "name": "#incident"} in one["tags"]
    assert one["to"] == ["https://www.w3.org/ns/activitystreams#Public"]
    assert one["cc"] == [f"https://{host}/users/status/followers"]
    assert two["inReplyTo"] == one["id"]
    assert 'href="https://status.acme.example/i/1"' in two["content"]

    async def recorded() -> bool:  # the daemon records the answer just after the peer has it
        return await h.daemon.store.ap_delivery_counts(first["id"]) == {"delivered": 1}

    await eventually(recorded, timeout=5)

    await admin.correct(h.daemon.store, h.daemon.clock, h.daemon.runtime.channels, first["id"],
                        "Checkout fails for all of you. #incident", "Outage", "test")  # fmt: skip
    await eventually(lambda: _has(fedify, h, "Update", 1), timeout=20)
    (update,) = [r["note"] for r in await mine(fedify, h, "Update")]
    assert update["id"] == one["id"] and "for all of you" in update["content"]
    assert update["attachments"] == one["attachments"]  # the image and its alt text stay


async def test_undo_stops_deliveries(fedify: FedifyPeer, actor: tuple[Harness, str]) -> None:
    h, host = actor
    me = await followed(fedify, h, host)
    await fedify.call("unfollow", actor=me)
    await eventually(lambda: _no_follower(h, fedify.actor))
    m = await h.post(text="After the unfollow.")
    await h.wait_state(m["id"], "delivered")
    assert await h.daemon.store.ap_delivery_counts(m["id"]) == {}
    assert await mine(fedify, h, "Create") == []


async def _no_follower(h: Harness, actor: str) -> bool:
    return await h.daemon.store.ap_follower(actor) is None


async def test_a_follower_offline_for_a_while_gets_the_post_later(
    fedify: FedifyPeer, actor: tuple[Harness, str]
) -> None:
    h, host = actor
    await followed(fedify, h, host)
    await fedify.call("offline")
    try:
        m = await h.post(text="Posted while your server was down.")
        await h.wait_state(m["id"], "delivered")

        async def failed_twice() -> bool:
            rows = await h.daemon.store.ap_deliveries(m["id"])
            return bool(rows) and rows[0].attempts >= 2 and rows[0].state == "pending"

        await eventually(failed_twice, timeout=20)
        assert "cannot connect" in str((await h.daemon.store.ap_deliveries(m["id"]))[0].last_error)
    finally:
        await fedify.call("online")
    await eventually(lambda: _has(fedify, h, "Create", 1), timeout=30)

    async def recorded() -> bool:  # the daemon records the answer just after the peer has it
        return await h.daemon.store.ap_delivery_counts(m["id"]) == {"delivered": 1}

    await eventually(recorded, timeout=5)


async def test_a_deleted_follower_is_removed(
    fedify: FedifyPeer, actor: tuple[Harness, str]
) -> None:
    h, host = actor
    me = await followed(fedify, h, host)
    await fedify.call("deleteSelf", actor=me)
    await eventually(lambda: _no_follower(h, fedify.actor))


async def test_after_a_restart_the_same_key_reaches_the_same_follower(
    fedify: FedifyPeer, tmp_path: Path, ca: tuple[trustme.CA, Path]
) -> None:
    path, port, tls = actor_config(tmp_path)
    async with TlsFront(tls, port, tmp_path, ca=ca[0]):
        h = await start_daemon(path)
        try:
            await followed(fedify, h, f"localhost:{tls}")
            key = h.daemon.fediverse.public_key
        finally:
            await h.daemon.stop()
        h = await start_daemon(path, tokens=h.tokens)
        try:
            assert h.daemon.fediverse.public_key == key
            assert await h.daemon.store.ap_follower(fedify.actor) is not None
            m = await h.post(text="Back after a restart.")
            await h.wait_state(m["id"], "delivered")
            await eventually(lambda: _has(fedify, h, "Create", 1), timeout=20)
        finally:
            await h.daemon.stop()
