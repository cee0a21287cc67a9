"""The store's part for the fediverse actor: one contract, SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from failover.store.base import Store
from failover.store.fediverse import ActorRecord, Follower, HostRecord, Publication
from tests.integration import test_store

store = test_store.store  # the same SQLite/PostgreSQL fixture as the rest of the contract
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def follower(name: str, host: str = "social.example", state: str = "accepted") -> Follower:
    actor = f"https://{host}/users/{name}"
    return Follower(actor, f"{actor}/inbox", f"https://{host}/inbox", f"{actor}#f", state, None, T0)


def create(n: int) -> Publication:
    note = {"id": f"https://me.example/users/s/posts/{n}", "type": "Note"}
    activity = {"id": f"{note['id']}/activity", "type": "Create", "object": note}
    return Publication(activity["id"], json.dumps(activity), n, note["id"], json.dumps(note), json.dumps(activity))  # fmt: skip


async def test_the_first_actor_record_wins(store: Store) -> None:
    first = await store.ap_create_actor(
        ActorRecord("status", "me.example", "https://me.example", "KEY-1", T0)
    )
    second = await store.ap_create_actor(
        ActorRecord("status", "me.example", "https://me.example", "KEY-2", T0)
    )
    assert first.private_key == second.private_key == "KEY-1"
    await store.ap_move_actor("status", "acme.example", "https://acme.example", T0)
    moved = await store.ap_actor()
    assert moved is not None and (moved.domain, moved.private_key) == ("acme.example", "KEY-1")


async def test_followers_coalesce_on_a_shared_inbox(store: Store) -> None:
    for name in ("alice", "bob"):
        await store.ap_add_follower(follower(name), T0)
    await store.ap_add_follower(follower("carol", host="other.example", state="pending"), T0)
    assert await store.ap_follower_counts() == {"accepted": 2, "pending": 1}
    assert await store.ap_inbox_count() == 1
    queued = await store.ap_publish(create(1), None, "unavailable", T0)
    assert queued == 1  # one POST to social.example's shared inbox, none to the pending one
    assert await store.ap_publish(create(1), None, "unavailable", T0) == 0  # same activity again
    approved = await store.ap_approve_follower("https://other.example/users/carol", T0)
    assert approved is not None and approved.state == "accepted"
    again = await store.ap_add_follower(
        follower("carol", host="other.example", state="pending"), T0
    )
    assert again.state == "accepted"  # a repeated Follow does not un-approve


async def test_claims_are_exclusive_and_breakers_hold_a_host_back(store: Store) -> None:
    await store.ap_add_follower(follower("alice"), T0)
    await store.ap_add_follower(follower("dan", host="down.example"), T0)
    await store.ap_publish(create(1), None, "unavailable", T0)
    lease = T0 + timedelta(minutes=1)
    mine = await store.ap_claim("a", T0, lease, 10)
    assert len(mine) == 2 and all(d.body and "Create" in d.body for d in mine)
    assert await store.ap_claim("b", T0, lease, 10) == []  # held by "a"
    down = next(d for d in mine if d.host == "down.example")
    breaker = HostRecord("down.example", 10, ("2026-03-01",), T0 + timedelta(minutes=5), False)
    retry_at = T0 + timedelta(seconds=15)
    assert await store.ap_finish(down, "a", "pending", retry_at, None, "refused", breaker, T0)
    assert not await store.ap_finish(down, "b", "pending", retry_at, None, "x", None, T0)  # fenced
    assert (
        await store.ap_claim("b", T0 + timedelta(seconds=20), lease + timedelta(minutes=1), 10)
        == []
    )
    # Next claimable: alice's row when a's claim expires (down.example waits for its breaker).
    assert await store.ap_next_due(T0 + timedelta(seconds=20)) == lease
    later = T0 + timedelta(minutes=6)  # breaker closed again, and a's lease expired
    again = await store.ap_claim("b", later, later + timedelta(minutes=1), 10)
    assert sorted(d.host for d in again) == ["down.example", "social.example"]
    assert await store.ap_failing_inboxes(T0 - timedelta(days=1)) == 1


async def test_unavailable_hosts_are_not_queued_and_ids_are_seen_once(store: Store) -> None:
    await store.ap_add_follower(follower("dan", host="gone.example"), T0)
    await store.ap_clear_host("gone.example")
    claimed = []
    await store.ap_publish(create(1), None, "unavailable", T0)
    claimed = await store.ap_claim("a", T0, T0 + timedelta(minutes=1), 10)
    gone = HostRecord("gone.example", 3, tuple(f"2026-03-0{d}" for d in range(1, 8)), None, True)
    await store.ap_finish(claimed[0], "a", "failed", T0, 503, "HTTP 503", gone, T0)
    assert await store.ap_publish(create(2), None, "host unavailable", T0) == 0
    rows = await store.ap_deliveries(2)
    assert [(r.state, r.last_error) for r in rows] == [("failed", "host unavailable")]
    assert not await store.ap_seen("https://x/1")
    assert await store.ap_first_sight("https://x/1", T0, T0 - timedelta(days=7))
    assert await store.ap_seen("https://x/1")
    assert not await store.ap_first_sight("https://x/1", T0, T0 - timedelta(days=7))
    assert await store.ap_first_sight("https://x/1", T0 + timedelta(days=8), T0 + timedelta(days=1))


async def test_outbox_objects_and_media(store: Store) -> None:
    for n in (1, 2):
        await store.ap_publish(create(n), [], "x", T0 + timedelta(seconds=n))
    items, total = await store.ap_outbox(10, 0)
    assert total == 2 and [i["object"]["id"][-1] for i in items] == ["2", "1"]
    tomb = Publication("https://me.example/users/s/posts/1#delete", "{}", 1,
                       "https://me.example/users/s/posts/1", '{"type": "Tombstone"}', deleted=True)  # fmt: skip
    await store.ap_publish(tomb, [], "x", T0)
    found = await store.ap_object("https://me.example/users/s/posts/1")
    assert found is not None and found[0]["type"] == "Tombstone" and found[2] is True
    assert (await store.ap_outbox(10, 0))[1] == 1
    await store.ap_put_media("a.png", "image/png", b"\x89PNG", T0)
    await store.ap_put_media("a.png", "image/png", b"\x89PNG", T0)
    assert await store.ap_media("a.png") == ("image/png", b"\x89PNG")
