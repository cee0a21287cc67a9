"""The daemon's own fediverse actor against a Mastodon-shaped server: discovery, the inbox's
signature checks, shared-inbox coalescing, per-inbox retries, restarts and clusters."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from channels.activitypub.signatures import new_private_key
from failover.activitypub.hosts import UNAVAILABLE_DAYS, after_failure
from failover.config import load_config
from failover.daemon import Daemon
from failover.errors import ConfigError
from failover.store.fediverse import Publication
from tests.harness import Harness, eventually, free_port, start_daemon, write_config
from tests.peers.mastodon_ap import AP, STALE, MastodonAP
from tests.peers.postgres_db import throwaway_database
from tests.peers.samples import PNG
from tests.peers.tls_front import TlsFront


def channel(extra: str = "") -> str:
    return f"""
    [channels.fedi]
    type = "activitypub"
    username = "status"
    name = "Acme status"
    summary = "Where #Acme posts when X is down"
    retry_spacing = 0.002
    {extra}

    [routes.default]
    tiers = [["fedi"]]
    """


@pytest.fixture
async def masto() -> AsyncIterator[MastodonAP]:
    async with MastodonAP() as peer:
        yield peer


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Harness]:
    h = await start_daemon(write_config(tmp_path, channel()))
    yield h
    await h.daemon.stop()


async def get(url: str, accept: str | None = AP) -> tuple[int, str, Any]:
    headers = {"Accept": accept} if accept else {}
    async with (
        aiohttp.ClientSession() as s,
        s.get(url, headers=headers, allow_redirects=False) as r,
    ):
        text = await r.text()
        body = json.loads(text) if "json" in r.content_type else text
        return r.status, r.content_type, body


def actor_of(h: Harness) -> str:
    return f"{h.url}/users/status"


async def follow(h: Harness, masto: MastodonAP, name: str) -> None:
    status = await masto.send(name, f"{actor_of(h)}/inbox", masto.follow(name, actor_of(h)))
    assert status == 202


async def followers(h: Harness) -> int:
    return (await h.daemon.store.ap_follower_counts()).get("accepted", 0)


async def test_discovery_documents_and_content_negotiation(daemon: Harness) -> None:
    host = daemon.daemon.config.api.listen
    status, ctype, jrd = await get(
        f"{daemon.url}/.well-known/webfinger?resource=acct:status@{host}", None
    )
    assert (status, ctype, jrd["subject"]) == (200, "application/jrd+json", f"acct:status@{host}")
    assert {"rel": "self", "type": AP, "href": actor_of(daemon)} in jrd["links"]
    assert (await get(f"{daemon.url}/.well-known/webfinger?resource=acct:nobody@{host}"))[0] == 404
    assert (await get(f"{daemon.url}/.well-known/webfinger"))[0] == 400

    status, ctype, actor = await get(actor_of(daemon))
    assert (status, ctype, actor["type"], actor["id"]) == (200, AP, "Service", actor_of(daemon))
    assert actor["inbox"] == f"{actor_of(daemon)}/inbox"
    assert actor["endpoints"]["sharedInbox"] == f"{daemon.url}/inbox"
    assert actor["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert actor["publicKey"]["owner"] == actor_of(daemon)
    assert "#<span>Acme</span>" in actor["summary"] and actor["manuallyApprovesFollowers"] is False
    ld = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
    assert (await get(actor_of(daemon), ld))[2]["id"] == actor_of(daemon)
    status, _, _ = await get(actor_of(daemon), "text/html")
    assert status == 302  # browsers go to the profile page

    _, _, links = await get(f"{daemon.url}/.well-known/nodeinfo", None)
    _, _, info = await get(links["links"][0]["href"], None)
    assert info["software"]["name"] == "failover" and info["protocols"] == ["activitypub"]

    m = await daemon.post(text="Checkout is down. #incident", content_warning="Outage")
    await daemon.wait_state(m["id"], "delivered")
    note_url = f"{actor_of(daemon)}/posts/{m['id']}"
    assert (await daemon.message(m["id"]))["deliveries"][0]["url"] == note_url
    _, _, note = await get(note_url)
    assert note["type"] == "Note" and note["summary"] == "Outage" and note["sensitive"] is True
    status, ctype, page = await get(note_url, "text/html")
    assert (status, ctype) == (200, "text/html") and "Checkout is down." in page
    _, _, box = await get(f"{actor_of(daemon)}/outbox")
    assert box["type"] == "OrderedCollection" and box["totalItems"] == 1
    _, _, first = await get(box["first"])
    assert first["orderedItems"][0]["object"]["id"] == note_url


async def test_the_handle_on_the_apex_domain_through_redirects(tmp_path: Path) -> None:
    """acme.example's web server redirects its /.well-known/ to the daemon (docs/fediverse.md);
    the handle @status@acme.example resolves to the actor, and back."""
    h = await start_daemon(write_config(tmp_path, channel('domain = "acme.example"')))
    apex = web.Application()

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently(h.url + request.path_qs)

    apex.router.add_get("/.well-known/{what}", redirect)
    runner = web.AppRunner(apex)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    apex_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{apex_url}/.well-known/webfinger",
                             params={"resource": "acct:status@acme.example"}) as r:  # fmt: skip
                assert r.status == 200 and len(r.history) == 1  # followed the redirect
                jrd = await r.json(content_type=None)
            assert jrd["subject"] == "acct:status@acme.example"
            actor_id = next(x["href"] for x in jrd["links"] if x["rel"] == "self")
            assert actor_id == actor_of(h)
            # Mastodon's check: preferredUsername@<the actor's host> leads to the same subject.
            host = h.daemon.config.api.listen
            async with s.get(f"{h.url}/.well-known/webfinger",
                             params={"resource": f"acct:status@{host}"}) as r:  # fmt: skip
                back = await r.json(content_type=None)
            assert back["subject"] == "acct:status@acme.example"
            assert {"rel": "self", "type": AP, "href": actor_id} in back["links"]
            async with s.get(f"{apex_url}/.well-known/host-meta") as r:
                assert (
                    f'template="{h.url}/.well-known/webfinger?resource={{uri}}"' in await r.text()
                )
    finally:
        await runner.cleanup()
        await h.daemon.stop()


async def test_mastodon_round_trip_accept_and_one_post_per_shared_inbox(
    daemon: Harness, masto: MastodonAP
) -> None:
    masto.authorized_fetch = True  # the daemon's GETs of the followers must be signed
    host = daemon.daemon.config.api.listen
    assert await masto.webfinger_round_trip(daemon.url, f"status@{host}") == actor_of(daemon)
    await follow(daemon, masto, "alice")
    await follow(daemon, masto, "bob")
    await eventually(lambda: len(masto.delivered("Accept")) == 2)
    paths = sorted(r["path"] for r in masto.delivered("Accept"))
    assert paths == ["/users/alice/inbox", "/users/bob/inbox"]  # Accepts go to each account
    assert await followers(daemon) == 2

    m = await daemon.post(text="Both of you, one request.")
    await daemon.wait_state(m["id"], "delivered")
    await eventually(lambda: masto.delivered("Create"))
    await asyncio.sleep(0.3)  # a second POST, if any, would arrive now
    assert masto.posts.get("/inbox") == 1 and len(masto.delivered("Create")) == 1
    create = masto.delivered("Create")[0]["activity"]
    assert create["object"]["attributedTo"] == actor_of(daemon)
    assert masto.refused == []  # signature, digest, content-type, Note host = actor host
    assert masto.signed_gets >= 3  # alice's and bob's actors (the Follows), alice's key
    _, _, coll = await get(f"{actor_of(daemon)}/followers?page=1")
    assert sorted(coll["orderedItems"]) == [masto.actor_id("alice"), masto.actor_id("bob")]


async def test_forged_stale_and_wrong_digest_are_refused_and_nothing_recorded(
    daemon: Harness, masto: MastodonAP
) -> None:
    inbox = f"{actor_of(daemon)}/inbox"
    activity = masto.follow("alice", actor_of(daemon))
    assert await masto.send("alice", inbox, activity, key_pem=new_private_key()) == 401
    assert await masto.send("alice", inbox, activity, date=datetime.now(UTC) - STALE) == 401
    assert await masto.send("alice", inbox, activity, tamper_body=True) == 401
    async with aiohttp.ClientSession() as s, s.post(inbox, json=activity) as r:
        assert r.status == 401  # unsigned
    assert await followers(daemon) == 0 and masto.received == []
    # The refused attempts did not use up the activity id: the genuine one still counts.
    assert await masto.send("alice", inbox, activity) == 202
    await eventually(lambda: len(masto.delivered("Accept")) == 1)
    assert await followers(daemon) == 1


async def test_oversized_or_malformed_bodies_are_refused(
    daemon: Harness, masto: MastodonAP
) -> None:
    inbox = f"{actor_of(daemon)}/inbox"
    huge = masto.follow("alice", actor_of(daemon)) | {"padding": "x" * 300_000}
    assert await masto.send("alice", inbox, huge) == 413
    not_activity = {"id": "https://x/1", "object": "y"}  # no actor, no type
    assert await masto.send("alice", inbox, not_activity) == 400
    assert await followers(daemon) == 0 and masto.received == []


async def test_a_reload_keeps_the_actor_its_key_and_followers(
    tmp_path: Path, masto: MastodonAP
) -> None:
    path = write_config(tmp_path, channel())
    h = await start_daemon(path)
    try:
        key = (await get(actor_of(h)))[2]["publicKey"]
        await follow(h, masto, "alice")
        await eventually(lambda: len(masto.delivered("Accept")) == 1)
        path.write_text(
            path.read_text().replace('name = "Acme status"', 'name = "Acme status (EU)"')
        )
        assert await h.daemon.reload()
        actor = (await get(actor_of(h)))[2]
        assert actor["name"] == "Acme status (EU)" and actor["publicKey"] == key
        m = await h.post(text="After the reload.")
        await h.wait_state(m["id"], "delivered")
        await eventually(lambda: len(masto.delivered("Create")) == 1)
    finally:
        await h.daemon.stop()


async def test_a_redelivered_activity_is_handled_once(daemon: Harness, masto: MastodonAP) -> None:
    activity = masto.follow("alice", actor_of(daemon))
    assert await masto.send("alice", f"{daemon.url}/inbox", activity) == 202
    assert await masto.send("alice", f"{daemon.url}/inbox", activity) == 202
    await eventually(lambda: len(masto.delivered("Accept")) == 1)
    like = {
        "id": activity["id"] + "/like",
        "type": "Like",
        "actor": activity["actor"],
        "object": "x",
    }
    assert await masto.send("alice", f"{daemon.url}/inbox", like) == 202  # ignored
    await asyncio.sleep(0.3)
    assert len(masto.received) == 1


async def test_a_follow_that_cannot_be_completed_now_is_taken_on_its_retry(
    daemon: Harness, masto: MastodonAP
) -> None:
    await follow(daemon, masto, "alice")  # alice's key is cached now
    inbox = f"{daemon.url}/inbox"
    await eventually(lambda: len(masto.delivered("Accept")) == 1)  # the Accept goes out async
    first = masto.delivered("Accept")
    undo = {"id": f"{masto.actor_id('alice')}#undo1", "type": "Undo",
            "actor": masto.actor_id("alice"), "object": {"type": "Follow"}}  # fmt: skip
    assert await masto.send("alice", inbox, undo) == 202
    again = masto.follow("alice", actor_of(daemon))
    masto.actor_status = 503  # alice's server cannot show her actor just now
    assert await masto.send("alice", inbox, again) == 502  # Mastodon retries a 5xx
    assert await followers(daemon) == 0
    masto.actor_status = None
    assert await masto.send("alice", inbox, again) == 202  # the retry is not a "duplicate"
    assert await followers(daemon) == 1
    await eventually(lambda: len(masto.delivered("Accept")) == len(first) + 1)


async def test_a_rotated_key_is_fetched_again(daemon: Harness, masto: MastodonAP) -> None:
    await follow(daemon, masto, "alice")  # the daemon now has alice's key cached
    await eventually(lambda: len(masto.delivered("Accept")) == 1)
    masto.accounts["alice"].private_pem = new_private_key()  # alice's server rotates it
    undo = {"id": f"{masto.actor_id('alice')}#undo", "type": "Undo",
            "actor": masto.actor_id("alice"), "object": {"type": "Follow"}}  # fmt: skip
    assert await masto.send("alice", f"{daemon.url}/inbox", undo) == 202
    assert await followers(daemon) == 0


async def test_undo_and_delete_end_the_follow(daemon: Harness, masto: MastodonAP) -> None:
    inbox = f"{daemon.url}/inbox"
    alice = masto.follow("alice", actor_of(daemon))
    await masto.send("alice", inbox, alice)
    await follow(daemon, masto, "bob")
    await eventually(lambda: len(masto.delivered("Accept")) == 2)
    undo = {"id": alice["id"] + "/undo", "type": "Undo", "actor": alice["actor"], "object": alice}
    assert await masto.send("alice", inbox, undo) == 202
    bob = masto.actor_id("bob")
    assert await masto.send("bob", inbox, {"id": bob + "#delete", "type": "Delete", "actor": bob, "object": bob}) == 202  # fmt: skip
    assert await followers(daemon) == 0
    m = await daemon.post(text="Nobody left to tell.")
    await daemon.wait_state(m["id"], "delivered")
    assert await daemon.daemon.store.ap_delivery_counts(m["id"]) == {}


async def test_failing_inbox_is_retried_and_4xx_is_not(daemon: Harness, masto: MastodonAP) -> None:
    await follow(daemon, masto, "alice")
    await eventually(lambda: len(masto.delivered("Accept")) == 1)
    masto.status = 503
    m = await daemon.post(text="Will you take it later?")
    await daemon.wait_state(m["id"], "delivered")  # published: the channel's part is done

    async def retried() -> bool:
        rows = await daemon.daemon.store.ap_deliveries(m["id"])
        return bool(rows) and rows[0].attempts >= 2 and rows[0].state == "pending"

    await eventually(retried)
    masto.status = 202
    await eventually(lambda: len(masto.delivered("Create")) == 1, timeout=20)
    await eventually(lambda: _counts(daemon, m["id"], {"delivered": 1}), timeout=5)

    masto.status = 404
    gone = await daemon.post(text="To an inbox that is gone.")
    await daemon.wait_state(gone["id"], "delivered")
    await eventually(lambda: _counts(daemon, gone["id"], {"failed": 1}))
    rows = await daemon.daemon.store.ap_deliveries(gone["id"])
    assert rows[0].attempts == 1 and rows[0].last_status == 404  # not retried


async def test_an_inbox_that_never_answers_holds_back_nobody(tmp_path: Path) -> None:
    h = await start_daemon(write_config(tmp_path, channel("timeout = 6")))
    async with MastodonAP(("alice",)) as stuck, MastodonAP(("bob",)) as fine:
        try:
            await follow(h, stuck, "alice")
            await follow(h, fine, "bob")
            await eventually(lambda: stuck.delivered("Accept") and fine.delivered("Accept"))
            stuck.hang = True
            posted = [(await h.post(text=f"Post {n}"))["id"] for n in range(20)]  # > 16 slots
            await eventually(lambda: len(fine.delivered("Create")) == 20, timeout=10)
            stuck_host = stuck.url.removeprefix("http://")
            (first,) = [
                d for d in await h.daemon.store.ap_deliveries(posted[0]) if d.host == stuck_host
            ]
            assert first.attempts == 0  # its first POST still hangs: it held back nobody
            assert stuck.posts["/inbox"] <= 4  # at most 4 requests in flight to one host
            await eventually(lambda: _attempted(h, posted[0]), timeout=10)
            (first,) = [
                d for d in await h.daemon.store.ap_deliveries(posted[0]) if d.host == stuck_host
            ]
            assert first.state == "pending" and "no answer in time" in str(first.last_error)
        finally:
            await h.daemon.stop()


async def _attempted(h: Harness, message_id: int) -> bool:
    rows = await h.daemon.store.ap_deliveries(message_id)
    return any(d.attempts >= 1 and d.state == "pending" for d in rows)


async def test_health_is_down_when_unserved_and_degraded_when_inboxes_fail(
    daemon: Harness, masto: MastodonAP
) -> None:
    live = daemon.daemon.runtime.channels.get("fedi")
    assert live is not None and live.adapter is not None
    assert (await live.adapter.check()).ok
    await follow(daemon, masto, "alice")
    await eventually(lambda: len(masto.delivered("Accept")) == 1)
    masto.status = 500
    m = await daemon.post(text="Failing everywhere.")
    await eventually(lambda: _attempted(daemon, m["id"]))
    result = await live.adapter.check()
    assert result.ok and result.degraded and "1 failing" in result.detail
    await daemon.daemon._runner.cleanup()  # type: ignore[union-attr]  # the HTTP server is gone
    daemon.daemon._runner = None
    result = await live.adapter.check()
    assert not result.ok and "cannot be fetched" in result.detail


async def test_an_unavailable_host_is_skipped_until_it_reaches_us(
    daemon: Harness, masto: MastodonAP
) -> None:
    store, now = daemon.daemon.store, daemon.daemon.clock.now()
    await follow(daemon, masto, "alice")
    await eventually(lambda: len(masto.delivered("Accept")) == 1)
    host = masto.url.removeprefix("http://")
    record = None
    for day in range(UNAVAILABLE_DAYS):  # it failed on seven distinct days
        record = after_failure(record, host, now - timedelta(days=day))
    later = now + timedelta(hours=1)  # due only then: the daemon's own sender leaves it alone
    await store.ap_publish(Publication("x#1", "{}"), [f"{masto.url}/inbox"], "-", later)
    (claimed,) = await store.ap_claim("test", later, later + timedelta(minutes=1), 1)
    await store.ap_finish(claimed, "test", "failed", now, 503, "HTTP 503", record, now)
    skipped = await daemon.post(text="Not even tried.")
    await daemon.wait_state(skipped["id"], "delivered")
    (row,) = await store.ap_deliveries(skipped["id"])
    assert (row.state, row.attempts) == ("failed", 0) and "unavailable" in str(row.last_error)
    like = {
        "id": f"{masto.actor_id('alice')}#like",
        "type": "Like",
        "actor": masto.actor_id("alice"),
        "object": "x",
    }
    assert await masto.send("alice", f"{daemon.url}/inbox", like) == 202  # it reaches us
    assert await store.ap_host(host) is None
    m = await daemon.post(text="Reached again.")
    await daemon.wait_state(m["id"], "delivered")
    await eventually(lambda: len(masto.delivered("Create")) == 1)


async def _counts(h: Harness, message_id: int, want: dict[str, int]) -> bool:
    return await h.daemon.store.ap_delivery_counts(message_id) == want


async def test_image_alt_text_and_thread_reply(daemon: Harness, masto: MastodonAP) -> None:
    await follow(daemon, masto, "alice")
    await eventually(lambda: len(masto.delivered("Accept")) == 1)
    import base64

    first = await daemon.post(
        text="Graph attached.",
        images=[
            {
                "data": base64.b64encode(PNG).decode(),
                "content_type": "image/png",
                "alt": "Error rate",
            }
        ],
    )
    await daemon.wait_state(first["id"], "delivered")
    reply = await daemon.post(text="Fixed.", thread=first["id"])
    await daemon.wait_state(reply["id"], "delivered")
    await eventually(lambda: len(masto.delivered("Create")) == 2)
    notes = [r["activity"]["object"] for r in masto.delivered("Create")]
    image = notes[0]["attachment"][0]
    assert (image["type"], image["name"], image["mediaType"]) == (
        "Document",
        "Error rate",
        "image/png",
    )
    async with aiohttp.ClientSession() as s, s.get(image["url"]) as r:
        assert r.status == 200 and await r.read() == PNG
    assert notes[1]["inReplyTo"] == notes[0]["id"]


async def test_restart_keeps_the_key_and_the_followers(tmp_path: Path, masto: MastodonAP) -> None:
    path = write_config(tmp_path, channel())
    h = await start_daemon(path)
    key = (await get(actor_of(h)))[2]["publicKey"]["publicKeyPem"]
    await follow(h, masto, "alice")
    await eventually(lambda: len(masto.delivered("Accept")) == 1)
    await h.daemon.stop()
    h = await start_daemon(path, tokens=h.tokens)
    try:
        assert (await get(actor_of(h)))[2]["publicKey"]["publicKeyPem"] == key
        assert await followers(h) == 1
        m = await h.post(text="Still here after a restart.")
        await h.wait_state(m["id"], "delivered")
        await eventually(lambda: len(masto.delivered("Create")) == 1)
        assert masto.refused == []  # signed with the same key the follower knows
    finally:
        await h.daemon.stop()


async def test_a_moved_domain_is_refused_unless_told_to_migrate(tmp_path: Path) -> None:
    path = write_config(tmp_path, channel())
    h = await start_daemon(path)
    await h.daemon.stop()
    moved = path.read_text().replace(
        'username = "status"', 'username = "status"\ndomain = "acme.example"'
    )
    path.write_text(moved)
    refused = Daemon(load_config(path))
    with pytest.raises(ConfigError, match="migrate_domain"):
        await refused.start()
    await refused.stop()
    path.write_text(moved.replace("retry_spacing", "migrate_domain = true\nretry_spacing"))
    h = await start_daemon(path)
    try:
        assert (await h.daemon.store.ap_actor()).domain == "acme.example"  # type: ignore[union-attr]
    finally:
        await h.daemon.stop()


async def test_two_daemons_of_a_cluster_sign_with_one_key(
    tmp_path: Path, masto: MastodonAP
) -> None:
    with throwaway_database() as dsn:
        port_a, port_b = free_port(), free_port()
        paths = []
        for name, port in (("a", port_a), ("b", port_b)):
            (tmp_path / name).mkdir()
            path = write_config(tmp_path / name, channel(), port=port)
            text = path.read_text().replace(
                f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port_a}"
            )
            path.write_text(f'store = "{dsn}"\n' + text)
            paths.append(path)
        a = await start_daemon(paths[0])
        b = await start_daemon(paths[1], tokens=a.tokens)
        try:
            key_a = (await get(f"http://127.0.0.1:{port_a}/users/status"))[2]["publicKey"]
            key_b = (await get(f"http://127.0.0.1:{port_b}/users/status"))[2]["publicKey"]
            assert key_a == key_b  # same id, same key, whichever daemon answers
            await follow(a, masto, "alice")
            await eventually(lambda: len(masto.delivered("Accept")) == 1)
            assert await followers(b) == 1
            await a.daemon.stop()  # the load balancer now sends everyone to b
            async with TlsFront(port_a, port_b, tmp_path, tls=False):
                m = await b.post(text="Sent by the other daemon.")
                await b.wait_state(m["id"], "delivered")
                await eventually(lambda: len(masto.delivered("Create")) == 1)
            assert masto.refused == []  # the follower checked b's signature with a's key
        finally:
            await b.daemon.stop()
            if a.daemon._runner is not None:
                await a.daemon.stop()
