"""The store's part for subscribers: one contract, SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from failover.store.base import Store
from failover.store.subscribers import NewSubscriber, Subscriber
from tests.integration import test_store

store = test_store.store  # the same SQLite/PostgreSQL fixture as the rest of the contract
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(hours=1)


async def subscribe(
    store: Store, address: str, components: list[str], token: str, key: str
) -> Subscriber:
    sub = await store.sub_subscribe_email(address, components, key, T0)
    assert await store.sub_set_token(sub.id, token, LATER, T0) == (sub.state != "suppressed")
    found = await store.sub_get(sub.id)
    assert found is not None
    return found


async def test_a_confirmation_token_works_once_and_not_after_expiry(store: Store) -> None:
    sub = await subscribe(store, "a@example.com", ["api"], "H1", "key-a")
    assert (sub.state, sub.components, sub.token_hash) == ("pending", ("api",), "H1")
    assert await store.sub_confirm(sub.id, "WRONG", T0) is None
    confirmed = await store.sub_confirm(sub.id, "H1", T0 + timedelta(minutes=5))
    assert confirmed is not None and confirmed.state == "confirmed"
    assert confirmed.token_hash is None and confirmed.confirmed_at is not None
    assert await store.sub_confirm(sub.id, "H1", T0 + timedelta(minutes=6)) is None  # once
    other = await subscribe(store, "b@example.com", [], "H2", "key-b")
    assert await store.sub_confirm(other.id, "H2", LATER + timedelta(seconds=1)) is None
    assert (await store.sub_get(other.id)).state == "pending"  # type: ignore[union-attr]


async def test_subscribing_again_refreshes_the_token_but_not_a_confirmed_choice(
    store: Store,
) -> None:
    sub = await subscribe(store, "a@example.com", ["api"], "H1", "key-a")
    await store.sub_confirm(sub.id, "H1", T0)
    again = await subscribe(store, "a@example.com", ["web"], "H2", "key-z")
    assert again.id == sub.id and again.state == "confirmed" and again.components == ("api",)
    assert again.token_hash == "H2" and again.unsubscribe_key == "key-a"  # the old link stays
    gone = await store.sub_unsubscribe("key-a", T0)
    assert gone is not None and gone.state == "unsubscribed"
    assert await store.sub_unsubscribe("key-a", T0) is None  # already done
    back = await subscribe(store, "a@example.com", ["web"], "H3", "key-y")
    assert (back.state, back.components, back.token_hash) == ("pending", ("web",), "H3")


async def test_a_suppressed_address_stays_suppressed(store: Store) -> None:
    sub = await subscribe(store, "x@example.com", [], "H1", "key-x")
    await store.sub_confirm(sub.id, "H1", T0)
    assert await store.sub_suppress("x@example.com", "550 no such user", T0)
    assert not await store.sub_suppress("x@example.com", "550 again", T0)
    again = await subscribe(store, "x@example.com", [], "H2", "key-q")
    assert again.state == "suppressed" and again.token_hash is None
    assert again.last_error == "550 no such user"
    assert await store.sub_confirmed("email") == []


async def test_list_counts_erasure_and_insert(store: Store) -> None:
    for i in range(3):
        await subscribe(store, f"u{i}@example.com", [], f"H{i}", f"k{i}")
    hook = await store.sub_insert(
        NewSubscriber("webhook", "https://hooks.example/in", "confirmed", "k-hook",
                      contact_email="ops@example.com", secret="s3cret"), T0,
    )  # fmt: skip
    assert hook is not None and hook.secret == "s3cret"
    assert await store.sub_insert(NewSubscriber("webhook", "https://hooks.example/in", "confirmed", "k-2"), T0) is None  # fmt: skip
    assert await store.sub_counts() == {"email": {"pending": 3}, "webhook": {"confirmed": 1}}
    page = await store.sub_list("email", None, 2, 1)
    assert [s.address for s in page] == ["u1@example.com", "u2@example.com"]
    assert [s.kind for s in await store.sub_list(None, "confirmed", 10, 0)] == ["webhook"]
    assert await store.sub_delete(page[0].id)
    assert await store.sub_get(page[0].id) is None
    assert not await store.sub_delete(page[0].id)
    assert await store.sub_counts() == {"email": {"pending": 2}, "webhook": {"confirmed": 1}}


async def test_webhook_failures_count_up_and_reset(store: Store) -> None:
    hook = await store.sub_insert(NewSubscriber("webhook", "https://h.example/", "confirmed", "kh"), T0)  # fmt: skip
    assert hook is not None
    first = await store.sub_hook_result(hook.id, "HTTP 500", T0)
    second = await store.sub_hook_result(hook.id, "HTTP 502", T0)
    assert first is not None and second is not None
    assert (first.failures, second.failures, second.last_error) == (1, 2, "HTTP 502")
    ok = await store.sub_hook_result(hook.id, None, T0)
    assert ok is not None and (ok.failures, ok.last_error) == (0, None)


async def test_attempts_are_counted_in_their_window_and_pruned(store: Store) -> None:
    for minute in (0, 10, 20):
        at = T0 + timedelta(minutes=minute)
        await store.sub_record_attempt(["addr:1", "src:9"], at, at - timedelta(hours=1))
    assert await store.sub_attempts("addr:1", T0) == (3, T0)
    assert await store.sub_attempts("src:9", T0 + timedelta(minutes=5)) == (
        2, T0 + timedelta(minutes=10),
    )  # fmt: skip
    assert await store.sub_attempts("addr:2", T0) == (0, None)
    late = T0 + timedelta(minutes=90)
    await store.sub_record_attempt(["addr:1"], late, late - timedelta(hours=1))
    assert await store.sub_attempts("addr:1", T0) == (1, late)  # the old ones are gone


async def test_a_message_outside_any_incident_has_no_components(store: Store) -> None:
    assert await store.sub_message_components(12345) is None


async def hook(store: Store, url: str = "https://h.example/") -> Subscriber:
    row = await store.sub_insert(NewSubscriber("webhook", url, "confirmed", f"k-{url}", secret="s3cret-0123456789"), T0)  # fmt: skip
    assert row is not None
    return row


async def test_a_missed_copy_is_kept_claimed_once_and_rescheduled(store: Store) -> None:
    h1, h2 = await hook(store, "https://a.example/"), await hook(store, "https://b.example/")
    body = '{"text": "Investigating ✓"}'.encode()
    due = T0 + timedelta(seconds=30)
    for h in (h1, h2):
        assert await store.hook_retry_add(h.id, "hooks", ("m1-hooks-1", 1, body), due, "HTTP 503", T0)  # fmt: skip
    assert not await store.hook_retry_add(h1.id, "hooks", ("m1-hooks-1", 1, body), LATER, "x", T0)  # fmt: skip
    assert await store.hook_retry_counts() == {h1.id: 1, h2.id: 1}
    assert await store.hook_retry_next_due(T0) == due
    assert await store.hook_retry_claim("d1", T0, T0 + timedelta(minutes=1), 8) == []  # not due
    at = due + timedelta(seconds=1)
    lease = at + timedelta(minutes=1)
    claimed = await store.hook_retry_claim("d1", at, lease, 8)
    assert [(r.subscriber_id, r.body, r.copy_key, r.message_id, r.attempts) for r in claimed] == [
        (h1.id, body, "m1-hooks-1", 1, 1), (h2.id, body, "m1-hooks-1", 1, 1),
    ]  # fmt: skip
    assert claimed[0].address == "https://a.example/" and claimed[0].secret == "s3cret-0123456789"
    assert await store.hook_retry_claim("d2", at, lease, 8) == []  # claimed: not again
    assert await store.hook_retry_next_due(at) is None  # nothing unclaimed
    again = at + timedelta(minutes=2)
    assert await store.hook_retry_finish(claimed[0], "d1", at, due_at=again, error="HTTP 502")
    assert not await store.hook_retry_finish(claimed[0], "d1", at, due_at=None, error=None)  # its claim is spent  # fmt: skip
    assert await store.hook_retry_finish(claimed[1], "d1", at, due_at=None, error=None)  # taken
    assert await store.hook_retry_counts() == {h1.id: 1}
    # A claim whose daemon died expires, and another daemon takes the copy.
    [second] = await store.hook_retry_claim("d1", again, again + timedelta(minutes=1), 8)
    assert second.attempts == 2
    [taken_over] = await store.hook_retry_claim("d2", again + timedelta(minutes=2), again + timedelta(minutes=3), 8)  # fmt: skip
    assert taken_over.id == second.id
    assert not await store.hook_retry_finish(second, "d1", again, due_at=None, error=None)


async def test_a_give_up_is_an_event_and_the_body_goes_with_the_last_retry(store: Store) -> None:
    h = await hook(store)
    body = b'{"text": "big"}'
    await store.hook_retry_add(h.id, "hooks", ("m2-hooks-1", 2, body), T0, "HTTP 503", T0)
    [r] = await store.hook_retry_claim("d1", T0, LATER, 8)
    detail = {"subscriber": h.id, "attempts": 5, "error": "HTTP 503"}
    assert await store.hook_retry_finish(r, "d1", T0, due_at=None, error="HTTP 503", gave_up=detail)
    [event] = [e for e in await store.events() if e.kind == "subscriber.hook_gave_up"]
    assert (event.channel, event.message_id, event.detail) == ("hooks", 2, detail)
    assert await store.hook_retry_counts() == {}
    # The body is kept once per copy and goes once no hook waits for it: the key is free again.
    other = b'{"text": "other body, same key"}'
    await store.hook_retry_add(h.id, "hooks", ("m2-hooks-1", 2, other), T0, "HTTP 503", T0)
    [r] = await store.hook_retry_claim("d1", T0, LATER, 8)
    assert r.body == other


async def test_a_hook_that_works_again_or_is_gone_changes_its_retries(store: Store) -> None:
    h, gone, erased = [await hook(store, f"https://{n}.example/") for n in "xyz"]
    for n, sub in enumerate((h, h, gone, erased)):
        key = f"m{n}-hooks-1"
        await store.hook_retry_add(sub.id, "hooks", (key, n, b"{}"), LATER, "HTTP 503", T0)
    # The hook took copy 0 after all (a delivery sent again) and works: copy 1 is due now.
    ok = await store.sub_hook_result(h.id, None, T0, "m0-hooks-1")
    assert ok is not None and ok.failures == 0
    assert await store.hook_retry_next_due(T0) == T0
    assert await store.sub_unsubscribe(gone.unsubscribe_key, T0) is not None
    assert await store.sub_delete(erased.id)
    assert await store.hook_retry_counts() == {h.id: 1, gone.id: 1}  # erased: its row went too
    claimed = await store.hook_retry_claim("d1", T0, LATER + timedelta(hours=1), 8)
    assert [(r.subscriber_id, r.copy_key) for r in claimed] == [(h.id, "m1-hooks-1")]
    assert await store.hook_retry_claim("d1", LATER, LATER + timedelta(minutes=1), 8) == []
    assert await store.hook_retry_counts() == {h.id: 1}  # the unsubscribed one is dropped
    assert not await store.hook_retry_add(gone.id, "hooks", ("m9-hooks-1", 9, b"{}"), T0, "x", T0)
