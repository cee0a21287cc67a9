"""The store interface's contract. Every backend must pass this same suite."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from failover.errors import Conflict, NotFound, StoreError
from failover.model import ChannelState, DeliveryState, Forced, Health, NewMessage, Role
from failover.store.base import NewDelivery, NewEvent, Outcome, QueueFront, Store
from failover.store.sqlite import SqliteStore
from failover.store.token_cache import TTL as TOKEN_TTL
from tests.peers.postgres_db import throwaway_database

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        s: Store = SqliteStore(tmp_path / "db" / "failover.db", exclusive=True)
        await s.open()
        yield s
        await s.close()
        return
    with throwaway_database() as dsn:
        from failover.store.postgres import PostgresStore

        s = PostgresStore(dsn)
        await s.open()
        yield s
        await s.close()


async def reopen(store: Store, tmp_path: Path) -> Store:
    """The same database through a new store object (a restart, or another daemon)."""
    if isinstance(store, SqliteStore):
        await store.close()
        again: Store = SqliteStore(store.path, exclusive=True)
    else:
        from failover.store.postgres import PostgresStore

        assert isinstance(store, PostgresStore)
        again = PostgresStore(store.dsn)
    await again.open()
    return again


def msg(text: str = "hello", key: str | None = None, **kw: object) -> NewMessage:
    return NewMessage(text=text, route="default", created_by="test", idempotency_key=key, **kw)  # type: ignore[arg-type]


def pending(channel: str, at: datetime = T0, tier: int = 0) -> NewDelivery:
    return NewDelivery(channel, tier, DeliveryState.PENDING, at)


async def test_create_and_read_back(store: Store) -> None:
    m, created, _ = await store.create_message(
        msg(), [pending("a"), pending("b")], [NewEvent("message.accepted")], T0
    )
    assert created and m.id > 0 and m.thread_id == m.id
    got = await store.message(m.id)
    assert got == m
    ds = await store.deliveries(m.id)
    assert [(d.channel, d.state) for d in ds] == [
        ("a", DeliveryState.PENDING),
        ("b", DeliveryState.PENDING),
    ]
    [event] = await store.events(message_id=m.id)
    assert event.kind == "message.accepted" and event.message_id == m.id


async def test_idempotency_key_returns_the_first_message(store: Store) -> None:
    first, created, _ = await store.create_message(msg(key="k1"), [pending("a")], [], T0)
    again, created2, _ = await store.create_message(msg("other", key="k1"), [pending("a")], [], T0)
    assert created and not created2 and again.id == first.id and again.text == "hello"
    assert len(await store.messages()) == 1


async def test_a_message_never_gets_a_channel_twice(store: Store) -> None:
    m, _, _ = await store.create_message(msg(), [pending("a")], [], T0)
    added = await store.add_deliveries(m.id, [pending("a", tier=1), pending("b", tier=1)], [], T0)
    assert [d.channel for d in added] == ["b"]
    assert sorted(d.channel for d in await store.deliveries(m.id)) == ["a", "b"]


async def test_acceptance_writes_each_table_once_whatever_the_rows(store: Store) -> None:
    """A message, its deliveries and its events: one statement each, not one per row
    (PostgreSQL: one statement for all three)."""
    before = store.statements
    m, created, added = await store.create_message(
        msg(),
        [pending("a"), pending("b"), pending("c", tier=1)],
        [NewEvent("message.accepted"), NewEvent("note", detail={"n": 1})],
        T0,
    )
    assert store.statements - before == (3 if isinstance(store, SqliteStore) else 1)
    assert created and [(d.channel, d.tier) for d in added] == [("a", 0), ("b", 0), ("c", 1)]
    assert added == await store.deliveries(m.id)
    events = await store.events(message_id=m.id)
    assert [(e.kind, e.detail) for e in reversed(events)] == [
        ("message.accepted", {}),
        ("note", {"n": 1}),
    ]


async def test_times_keep_every_microsecond(store: Store) -> None:
    """Due times travel inside one statement's JSON: none may come back a hair off."""
    odd = [T0 + timedelta(seconds=s, microseconds=us) for s, us in
           [(0, 1), (1, 123457), (86399, 999999), (12345, 500001), (7, 700001)]]  # fmt: skip
    m, _, added = await store.create_message(
        msg(), [pending(f"c{i}", at) for i, at in enumerate(odd)], [], T0
    )
    assert [d.due_at for d in added] == odd
    assert [d.due_at for d in await store.deliveries(m.id)] == odd


async def test_a_claim_brings_each_delivery_with_its_message_as_stored(store: Store) -> None:
    at = T0 + timedelta(microseconds=123457)
    root, _, _ = await store.create_message(msg("root"), [], [], T0)
    full = NewMessage(
        text="full", route="default", created_by="test", title="t", link="https://x.test/",
        content_warning="cw", language="en", overrides={"a": "short"}, scheduled_at=at,
        expires_at=at + timedelta(hours=1), thread=root.id, idempotency_key="k",
        request_hash="h", traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01",
    )  # fmt: skip
    m, _, _ = await store.create_message(full, [pending("a", at), pending("b", at)], [], at)
    other, _, _ = await store.create_message(msg("other"), [pending("a", at)], [], at)
    claimed = await store.claim("a", at, "me", at + timedelta(seconds=60), 10)
    assert [(d.message_id, got) for d, got in claimed] == [
        (m.id, await store.message(m.id)),
        (other.id, await store.message(other.id)),
    ]
    assert claimed[0][1] == m and claimed[0][1].thread_id == root.id


async def test_an_outcome_keeps_its_attempt_and_its_events_or_nothing(store: Store) -> None:
    m, _, _ = await store.create_message(msg(), [pending("a")], [], T0)
    [d] = await store.claim_due("a", T0, "me", T0 + timedelta(seconds=60), 1)
    later = T0 + timedelta(seconds=2)
    out = Outcome(DeliveryState.DELIVERED, T0, T0, later, "delivered", status=200)
    events = [NewEvent("delivery.delivered", channel="a", message_id=m.id, delivery_id=d.id),
              NewEvent("extra", detail={"x": [1, 2]})]  # fmt: skip
    assert await store.finish(d.id, "other", out, events, later) is None  # not its claim
    assert await store.attempts(d.id) == [] and await store.events() == []
    before = store.statements
    done = await store.finish(d.id, "me", out, events, later, epoch=d.claim_epoch)
    assert done is not None and done.state is DeliveryState.DELIVERED
    # Outcome, attempt, events: one statement each (PostgreSQL: one for all three).
    assert store.statements - before == (3 if isinstance(store, SqliteStore) else 1)
    [a] = await store.attempts(d.id)
    assert (a.number, a.outcome, a.status, a.started_at, a.finished_at) == (
        1, "delivered", 200, T0, later)  # fmt: skip
    assert (a.claimed_by, a.claim_epoch) == ("me", d.claim_epoch)
    got = [(e.kind, e.delivery_id, e.detail, e.at) for e in reversed(await store.events())]
    assert got == [("delivery.delivered", d.id, {}, later), ("extra", None, {"x": [1, 2]}, later)]
    # Closed without calling the platform: no attempt is written.
    m2, _, _ = await store.create_message(msg("two"), [pending("b")], [], T0)
    [d2] = await store.claim_due("b", T0, "me", T0 + timedelta(seconds=60), 1)
    closed = Outcome(DeliveryState.EXPIRED, T0, None, later, "expired", attempted=False)
    assert (await store.finish(d2.id, "me", closed, [], later)) is not None
    assert await store.attempts(d2.id) == []


async def test_claims_respect_due_time_limit_and_owner(store: Store) -> None:
    m, _, _ = await store.create_message(
        msg(), [pending("a"), pending("b", T0 + timedelta(minutes=5))], [], T0
    )
    assert await store.due_channels(T0) == {"a": 1}
    assert await store.next_due_at("me") == T0
    claimed = await store.claim_due("a", T0, "me", T0 + timedelta(seconds=60), 10)
    assert [d.channel for d in claimed] == ["a"] and claimed[0].state is DeliveryState.SENDING
    assert await store.claim_due("a", T0, "other", T0 + timedelta(seconds=60), 10) == []
    assert await store.next_due_at("me") == T0 + timedelta(minutes=5)
    # The claim lapses: another daemon takes it over, flagged uncertain (it may have landed).
    later = T0 + timedelta(seconds=61)
    taken = await store.claim_due("a", later, "other", later + timedelta(seconds=60), 10)
    assert len(taken) == 1 and taken[0].uncertain and taken[0].claimed_by == "other"
    # The first owner's outcome is refused (fencing).
    outcome = Outcome(DeliveryState.DELIVERED, T0, T0, T0, "delivered", remote_id="1")
    assert await store.finish(claimed[0].id, "me", outcome, [], later) is None
    done = await store.finish(claimed[0].id, "other", outcome, [], later)
    assert done is not None and done.state is DeliveryState.DELIVERED and done.attempts == 1
    assert done.remote_id == "1" and done.claimed_by is None


async def test_retry_is_persisted_with_attempt_history(store: Store) -> None:
    m, _, _ = await store.create_message(msg(), [pending("a")], [], T0)
    [d] = await store.claim_due("a", T0, "me", T0 + timedelta(seconds=60), 1)
    retry_at = T0 + timedelta(seconds=30)
    out = Outcome(
        DeliveryState.PENDING,
        retry_at,
        T0,
        T0,
        "transient",
        error="503",
        status=503,
        progress={"adapter": {"done": [1]}},
        uncertain=True,
    )
    d2 = await store.finish(d.id, "me", out, [], T0)
    assert d2 is not None and d2.due_at == retry_at and d2.attempts == 1 and d2.uncertain
    assert d2.progress == {"adapter": {"done": [1]}} and d2.last_error == "503"
    assert await store.due_channels(T0) == {}
    assert await store.due_channels(retry_at) == {"a": 1}
    [a] = await store.attempts(d.id)
    assert (a.number, a.outcome, a.status) == (1, "transient", 503)


async def test_expiry(store: Store) -> None:
    m, _, _ = await store.create_message(
        msg(expires_at=T0 + timedelta(minutes=1)), [pending("a", T0 + timedelta(hours=1))], [], T0
    )
    assert await store.next_due_at("me") == T0 + timedelta(minutes=1)
    assert await store.expire_due(T0) == []
    [e] = await store.expire_due(T0 + timedelta(minutes=1))
    assert e.state is DeliveryState.EXPIRED
    assert (await store.deliveries(m.id))[0].state is DeliveryState.EXPIRED


async def test_cancel(store: Store) -> None:
    m, _, _ = await store.create_message(msg(), [pending("a"), pending("b")], [], T0)
    [claimed] = await store.claim_due("b", T0, "me", T0 + timedelta(seconds=60), 1)
    cancelled = await store.cancel_message(m.id, "alice", T0)
    assert [d.channel for d in cancelled] == ["a"]
    assert (await store.message(m.id)).cancelled_at == T0  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        await store.cancel_message(m.id, "alice", T0)
    with pytest.raises(NotFound):
        await store.cancel_message(9999, "alice", T0)
    assert claimed.state is DeliveryState.SENDING  # in flight: not cancellable


async def test_release_claims_makes_them_pending_and_uncertain(store: Store) -> None:
    await store.create_message(msg(), [pending("a")], [], T0)
    await store.claim_due("a", T0, "me", T0 + timedelta(seconds=60), 1)
    [r] = await store.release_claims("me", T0)
    assert r.state is DeliveryState.PENDING and r.uncertain and r.claimed_by is None
    stats = await store.queue_stats(T0)
    assert (stats.pending, stats.due, stats.sending) == (1, 1, 0)


async def test_threads(store: Store) -> None:
    root, _, _ = await store.create_message(msg("incident"), [pending("a")], [], T0)
    reply, _, _ = await store.create_message(msg("update", thread=root.id), [pending("a")], [], T0)
    assert reply.thread_id == root.id
    [d] = await store.claim_due("a", T0, "me", T0 + timedelta(seconds=60), 1)
    out = Outcome(
        DeliveryState.DELIVERED,
        T0,
        T0,
        T0,
        "delivered",
        remote_id="r1",
        receipt={"parts": [{"remote_id": "r1"}]},
    )
    await store.finish(d.id, "me", out, [], T0)
    [prev] = await store.thread_receipts(root.id, "a", exclude=reply.id)
    assert prev.message_id == root.id and prev.receipt["parts"][0]["remote_id"] == "r1"


async def test_each_channel_state_writer_touches_only_its_own_columns(store: Store) -> None:
    """A force racing paced late slots and health changes: nobody undoes anybody."""
    await store.set_channel_health("x", Health.UP, T0, "ok", [], T0)

    async def slots() -> list[datetime]:
        return [await store.advance_late_cursor("x", T0, 60.0) for _ in range(10)]

    async def health() -> None:
        for i in range(10):
            h = Health.DOWN if i % 2 else Health.UP
            await store.set_channel_health("x", h, T0, f"probe {i}", [], T0)

    forced = store.set_channel_forced("x", Forced.DOWN, "alice", "forced down by alice", [], T0)
    first, _, after_force, second = await asyncio.gather(slots(), health(), forced, slots())
    assert after_force.forced is Forced.DOWN
    state = (await store.channel_states())["x"]
    assert state.forced is Forced.DOWN and state.forced_by == "alice"
    assert state.health is Health.DOWN and state.reason == "probe 9"
    handed = sorted(first + second)
    assert handed == [T0 + timedelta(seconds=60 * i) for i in range(20)]  # distinct, spaced
    assert state.late_cursor == T0 + timedelta(seconds=60 * 20)
    # Auto again keeps the health and the cursor; a slot for a channel never seen starts now.
    back = await store.set_channel_forced("x", Forced.AUTO, None, None, [], T0)
    assert (back.forced, back.health, back.reason) == (Forced.AUTO, Health.DOWN, "probe 9")
    assert back.late_cursor == state.late_cursor
    assert await store.advance_late_cursor("new", T0, 5.0) == T0


async def test_channel_state_survives_reopen(store: Store, tmp_path: Path) -> None:
    st = ChannelState("x", Health.DOWN, Forced.DOWN, T0, "forced down by alice", "alice")
    ev = [NewEvent("channel.forced", actor="alice", channel="x")]
    await store.set_channel_health("x", Health.DOWN, T0, "probe failed", [], T0)
    await store.set_channel_forced("x", Forced.DOWN, "alice", "forced down by alice", ev, T0)
    again = await reopen(store, tmp_path)
    try:
        assert (await again.channel_states())["x"] == st
        [e] = await again.events(channel="x")
        assert e.actor == "alice"
    finally:
        if again is not store:
            await again.close()


async def test_tokens(store: Store) -> None:
    t = await store.create_token("ci", Role.PUBLISHER, "h" * 64, "admin", T0)
    found = await store.token_by_hash("h" * 64, T0)
    assert found is not None and found.role is Role.PUBLISHER and found.name == "ci"
    assert await store.token_by_hash("x" * 64, T0) is None
    assert await store.revoke_token(t.id, T0)
    assert await store.token_by_hash("h" * 64, T0) is None
    assert not await store.revoke_token(t.id, T0)


async def second_store(store: Store) -> Store:
    """Another store object on the same database, open beside the first (another daemon)."""
    if isinstance(store, SqliteStore):
        other: Store = SqliteStore(store.path)
    else:
        from failover.store.postgres import PostgresStore

        assert isinstance(store, PostgresStore)
        other = PostgresStore(store.dsn)
    await other.open()
    return other


async def test_a_revoked_token_is_refused_at_once_here_and_within_the_ttl_elsewhere(
    store: Store,
) -> None:
    other = await second_store(store)
    try:
        t = await store.create_token("ci", Role.PUBLISHER, "h" * 64, "admin", T0)
        assert await store.token_by_hash("h" * 64, T0) is not None
        assert await other.token_by_hash("h" * 64, T0) is not None  # kept by both now
        assert await store.revoke_token(t.id, T0)
        assert await store.token_by_hash("h" * 64, T0) is None  # revoked here: at once
        # Revoked on another daemon: served from this one's cache until the TTL is over.
        assert await other.token_by_hash("h" * 64, T0 + TOKEN_TTL / 2) is not None
        assert await other.token_by_hash("h" * 64, T0 + TOKEN_TTL) is None
    finally:
        await other.close()


async def test_a_token_created_elsewhere_works_at_its_first_use(store: Store) -> None:
    other = await second_store(store)
    try:
        assert await other.token_by_hash("n" * 64, T0) is None  # a miss is not kept
        await store.create_token("new", Role.VIEWER, "n" * 64, "admin", T0)
        found = await other.token_by_hash("n" * 64, T0)
        assert found is not None and found.name == "new"
    finally:
        await other.close()


async def test_sqlite_refuses_a_second_daemon_and_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    first = SqliteStore(path, exclusive=True)
    await first.open()
    with pytest.raises(StoreError, match="another failover daemon"):
        await SqliteStore(path, exclusive=True).open()
    await first.close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO schema_version (version) VALUES (999)")
    with pytest.raises(StoreError, match="schema version 999, newer than this failover knows"):
        await SqliteStore(path).open()


# --- PostgreSQL: several daemons on one database --------------------------------------------


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    with throwaway_database() as dsn:
        yield dsn


async def test_two_daemons_never_claim_the_same_delivery(pg_dsn: str) -> None:
    from failover.store.postgres import PostgresStore

    a, b = PostgresStore(pg_dsn), PostgresStore(pg_dsn)
    await a.open()
    await b.open()
    try:
        for i in range(60):
            await a.create_message(msg(f"m{i}"), [pending("x"), pending("y")], [], T0)
        lease = T0 + timedelta(minutes=1)

        async def drain(s: Store, owner: str) -> list[int]:
            got: list[int] = []
            while True:
                batch = []
                for channel in ("x", "y"):
                    batch += await s.claim_due(channel, T0, owner, lease, 7)
                if not batch:
                    return got
                got += [d.id for d in batch]

        ids_a, ids_b = await asyncio.gather(drain(a, "a"), drain(b, "b"))
    finally:
        await a.close()
        await b.close()
    assert not set(ids_a) & set(ids_b)
    assert len(ids_a) + len(ids_b) == 120 and ids_a and ids_b


async def test_concurrent_migrations_and_a_newer_schema(pg_dsn: str) -> None:
    from failover.store.postgres import PostgresStore

    stores = [PostgresStore(pg_dsn) for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))  # three daemons starting together
    rows = await stores[0]._all("list_tokens")
    assert rows == []
    async with stores[0]._tx_conn() as conn:
        versions = [
            r[0]
            for r in await (
                await conn.execute("SELECT version FROM schema_version ORDER BY 1")
            ).fetchall()
        ]
        assert versions == sorted(set(versions)) and versions[0] == 1
        await conn.execute("INSERT INTO schema_version (version) VALUES (999)")
    for s in stores:
        await s.close()
    with pytest.raises(StoreError, match="schema version 999, newer than this failover knows"):
        await PostgresStore(pg_dsn).open()


async def test_leadership_is_one_at_a_time_and_moves_when_the_lease_lapses(store: Store) -> None:
    assert await store.try_lead("a", 0.5, T0) == 1
    again = await store.try_lead("a", 0.5, T0)
    assert again == 1  # renewed, same epoch
    assert await store.try_lead("b", 0.5, T0) is None  # a holds an unexpired lease
    await asyncio.sleep(0.6)  # the PostgreSQL store uses the database's clock
    later = T0 + timedelta(seconds=1)
    assert await store.try_lead("b", 0.5, later) == 2  # a stopped renewing: b takes over
    assert await store.try_lead("a", 0.5, later) is None  # and a learns it lost


async def test_nodes_heartbeat_and_forget(store: Store) -> None:
    now = datetime.now(UTC)
    await store.heartbeat("a", {"version": "1"}, 30, now)
    await store.heartbeat("b", {}, 30, now)
    await store.try_lead("b", 30, now)
    nodes = {n.node: n for n in await store.nodes(now)}
    assert set(nodes) == {"a", "b"} and nodes["b"].leads and not nodes["a"].leads
    assert nodes["a"].info == {"version": "1"}
    await store.forget("b")
    assert [n.node for n in await store.nodes(now)] == ["a"]
    assert await store.try_lead("a", 30, now) is not None  # b's lease went with it


@pytest.mark.parametrize("via", ["same DSN", "store_listen past a pooler"])
async def test_notify_wakes_a_listener_on_another_store(pg_dsn: str, via: str) -> None:
    """A commit on one store wakes a daemon listening through another; behind PgBouncer in
    transaction mode LISTEN must reach the server directly (``store_listen``), so there the
    pooled DSN points nowhere and the wake-up still comes."""
    from failover.store.postgres import PostgresStore

    a = PostgresStore(pg_dsn)
    b = (
        PostgresStore(pg_dsn)
        if via == "same DSN"
        else PostgresStore("postgresql://nobody@127.0.0.1:9/nowhere", listen_dsn=pg_dsn)
    )
    await a.open()
    woken = asyncio.Event()
    listener = asyncio.create_task(b.listen(woken.set))
    try:
        await asyncio.wait_for(woken.wait(), 5)  # the first wake-up: "listening now"
        woken.clear()
        await a.create_message(msg(), [pending("x")], [], T0)
        await asyncio.wait_for(woken.wait(), 5)
    finally:
        listener.cancel()
        await a.close()


async def test_edit_before_sending_and_not_after(store: Store) -> None:
    later = T0 + timedelta(hours=2)
    m, _, _ = await store.create_message(
        msg(scheduled_at=later), [pending("a", later), pending("b", later)], [], T0
    )
    sooner = T0 + timedelta(hours=1)
    edited = await store.edit_message(
        m.id, {"text": "new", "title": "T", "scheduled_at": sooner}, sooner, "alice", T0
    )
    assert (edited.text, edited.title, edited.scheduled_at) == ("new", "T", sooner)
    assert {d.due_at for d in await store.deliveries(m.id)} == {sooner}
    assert "message.edited" in [e.kind for e in await store.events(message_id=m.id)]
    await store.claim_due("a", sooner, "me", sooner + timedelta(seconds=60), 1)
    with pytest.raises(Conflict, match="sending has started on a"):
        await store.edit_message(m.id, {"text": "late"}, None, "alice", sooner)
    assert (await store.message(m.id)).text == "new"  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await store.edit_message(10**9, {"text": "x"}, None, "alice", T0)


async def test_the_soonest_expiry_follows_edits_and_forgets_what_was_sent(store: Store) -> None:
    """The scheduler's "when does a pending message expire next" comes from a copy of the
    expiry on each delivery (kept by triggers): an edit moves it, a sent or expired delivery
    drops out, and delivered history with expiries is never walked."""
    soon, later = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    await store.create_message(msg("sent", expires_at=soon), [pending("a")], [], T0)
    [claimed] = await store.claim_due("a", T0, "me", T0 + timedelta(seconds=60), 1)
    done = Outcome(DeliveryState.DELIVERED, T0, T0, T0, "delivered", remote_id="1")
    await store.finish(claimed.id, "me", done, [], T0)
    assert (await store.queue_front(T0, "me", 10)).expires_at is None
    m, _, _ = await store.create_message(
        msg("kept", expires_at=later), [pending("b", later)], [], T0
    )
    assert (await store.queue_front(T0, "me", 10)).expires_at == later
    assert await store.next_due_at("me") == later
    await store.edit_message(m.id, {"expires_at": soon}, None, "alice", T0)
    assert (await store.queue_front(T0, "me", 10)).expires_at == soon
    assert [d.message_id for d in await store.expire_due(soon)] == [m.id]
    assert (await store.queue_front(soon, "me", 10)).expires_at is None


async def test_sessions_live_until_their_expiry_an_end_or_their_token_is_revoked(
    store: Store,
) -> None:
    token = await store.create_token("web", Role.VIEWER, "f" * 64, None, T0)
    other = await store.create_token("ops", Role.ADMIN, "e" * 64, None, T0)
    later = T0 + timedelta(hours=12)
    a = await store.create_session(token.id, "a" * 64, "Firefox", T0, later)
    b = await store.create_session(token.id, "b" * 64, None, T0, later)
    c = await store.create_session(other.id, "c" * 64, None, T0, later)
    found = await store.session_by_hash("a" * 64, T0)
    assert found is not None and (found.id, found.token, found.client) == (a, token, "Firefox")
    assert found.expires_at == later
    assert await store.session_by_hash("f" * 64, T0) is None  # the token's hash opens nothing
    assert await store.session_by_hash("a" * 64, later) is None  # expired
    assert [s.id for s in await store.sessions(T0)] == [a, b, c]
    assert await store.end_session(a, "admin", T0) and not await store.end_session(a, None, T0)
    assert await store.session_by_hash("a" * 64, T0) is None
    await store.revoke_token(token.id, T0)  # ends its other sessions too
    assert await store.session_by_hash("b" * 64, T0) is None
    assert [s.id for s in await store.sessions(T0)] == [c]
    assert [e.kind for e in await store.events(limit=3)][:2] == ["token.revoked", "session.ended"]


async def test_queue_stats_follow_every_state_change(store: Store) -> None:
    """The pending figure is kept without counting the queue (SQLite: a trigger-kept row),
    so each way in and out of ``pending`` is checked against the deliveries themselves."""

    async def agrees(now: datetime) -> tuple[int, int, int]:
        stats = await store.queue_stats(now)
        every = [d for m in await store.messages(limit=100) for d in await store.deliveries(m.id)]
        pending = [d for d in every if d.state is DeliveryState.PENDING]
        due = [d for d in pending if d.due_at <= now]
        sending = [d for d in every if d.state is DeliveryState.SENDING]
        assert (stats.pending, stats.due, stats.sending) == (len(pending), len(due), len(sending))
        assert stats.oldest_due_at == (min(d.due_at for d in due) if due else None)
        return stats.pending, stats.due, stats.sending

    later = T0 + timedelta(hours=1)
    assert await agrees(T0) == (0, 0, 0)
    a, _, _ = await store.create_message(msg("a"), [pending("a"), pending("b")], [], T0)
    b, _, _ = await store.create_message(msg("b"), [pending("a", later)], [], T0)
    assert await agrees(T0) == (3, 2, 0)
    [claimed] = await store.claim_due("a", T0, "me", T0 + timedelta(seconds=60), 1)
    assert await agrees(T0) == (2, 1, 1)
    await store.release_claims("me", T0)  # back to pending
    assert await agrees(T0) == (3, 2, 0)
    [claimed] = await store.claim_due("a", T0, "me", T0 + timedelta(seconds=60), 1)
    done = Outcome(DeliveryState.DELIVERED, T0, T0, T0, "delivered")
    await store.finish(claimed.id, "me", done, [], T0)
    assert await agrees(T0) == (2, 1, 0)
    [on_b] = [d for d in await store.deliveries(a.id) if d.channel == "b"]
    await store.skip_pending(on_b.id, "down since then", [], T0)
    assert await agrees(T0) == (1, 0, 0)
    await store.revive_skipped(on_b.id, T0, "back", [], T0)
    assert await agrees(T0) == (2, 1, 0)
    await store.cancel_message(b.id, "test", T0)
    assert await agrees(later) == (1, 1, 0)


async def test_queue_front_counts_each_channel_up_to_the_cap(store: Store) -> None:
    """A backlog of hundreds on one channel: each channel's count stops at the cap, and a
    channel with one due delivery behind that backlog is still seen (no global limit)."""
    for i in range(30):
        await store.create_message(msg(f"m{i}"), [pending("a")], [], T0)
    await store.create_message(msg("late"), [pending("b", T0 + timedelta(seconds=1))], [], T0)
    await store.create_message(msg("done"), [pending("c")], [], T0)
    await store.claim_due("c", T0, "me", T0 + timedelta(seconds=60), 1)
    await store.claim_due("a", T0, "them", T0 + timedelta(seconds=5), 3)  # lapse at +5 s
    at = T0 + timedelta(seconds=10)
    assert (await store.queue_front(at, "me", 5)).due == {"a": 5, "b": 1}  # c: my own claim
    assert (await store.queue_front(at, "me", 100)).due == {"a": 30, "b": 1}
    assert (await store.queue_front(T0, "me", 100)).due == {"a": 27}


async def test_queue_front_says_what_is_due_and_when_to_look_again(store: Store) -> None:
    soon, later = T0 + timedelta(minutes=5), T0 + timedelta(hours=1)
    assert await store.queue_front(T0, "me", 10) == QueueFront({}, None, None)
    await store.create_message(msg("now"), [pending("a"), pending("b")], [], T0)
    await store.create_message(msg("soon", expires_at=later), [pending("a", soon)], [], T0)
    front = await store.queue_front(T0, "me", 10)
    assert front == QueueFront({"a": 1, "b": 1}, soon, later)
    [mine] = await store.claim_due("a", T0, "me", T0 + timedelta(seconds=60), 1)
    [theirs] = await store.claim_due("b", T0, "them", T0 + timedelta(seconds=30), 1)
    # Our own claim is not a reason to wake; theirs lapsing is (we would take it over).
    assert await store.queue_front(T0, "me", 10) == QueueFront({}, theirs.claim_expires_at, later)
    lapsed = T0 + timedelta(seconds=31)
    assert (await store.queue_front(lapsed, "me", 10)).due == {"b": 1}
    assert mine.claim_expires_at is not None
