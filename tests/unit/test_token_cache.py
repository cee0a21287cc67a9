"""The token cache: a token looked up lately costs no store read, a revocation through this
store is seen at once, one made elsewhere within the TTL, and a miss is never kept."""

from __future__ import annotations

from datetime import timedelta

from failover.model import Role, Token
from failover.store.sqlite import SqliteStore
from failover.store.token_cache import TTL, TokenCache
from tests.unit.conftest import T0

HASH = "a" * 64


def token(token_id: int = 1) -> Token:
    return Token(id=token_id, name="ci", role=Role.PUBLISHER, created_at=T0)


def test_a_kept_token_is_served_for_the_ttl_and_not_after() -> None:
    cache = TokenCache()
    cache.put(HASH, token(), T0, cache.generation)
    assert cache.get(HASH, T0 + TTL - timedelta(milliseconds=1)) == token()
    assert cache.get(HASH, T0 + TTL) is None
    assert cache.get(HASH, T0) is None  # gone once expired, not kept for a clock set back


def test_a_clock_set_back_reads_the_store_again() -> None:
    cache = TokenCache()
    cache.put(HASH, token(), T0, cache.generation)
    assert cache.get(HASH, T0 - timedelta(seconds=1)) is None


def test_forget_drops_the_token_under_every_hash() -> None:
    cache = TokenCache()
    cache.put(HASH, token(1), T0, cache.generation)
    cache.put("b" * 64, token(2), T0, cache.generation)
    cache.forget(1)
    assert cache.get(HASH, T0) is None
    assert cache.get("b" * 64, T0) == token(2)


def test_a_read_that_began_before_a_revocation_is_not_kept() -> None:
    cache = TokenCache()
    began = cache.generation  # the store read starts ...
    cache.forget(1)  # ... a revocation commits meanwhile ...
    cache.put(HASH, token(1), T0, began)  # ... and the row read before it comes back
    assert cache.get(HASH, T0) is None


def test_the_cache_is_bounded() -> None:
    cache = TokenCache(max_entries=3)
    for i in range(5):
        cache.put(f"{i:064}", token(i), T0, cache.generation)
    kept = [i for i in range(5) if cache.get(f"{i:064}", T0) is not None]
    assert kept == [2, 3, 4]


async def test_the_second_lookup_reads_nothing(store: SqliteStore) -> None:
    created = await store.create_token("ci", Role.PUBLISHER, HASH, "admin", T0)
    assert await store.token_by_hash(HASH, T0) is not None  # read, and its last use written
    before = store.statements
    found = await store.token_by_hash(HASH, T0 + timedelta(seconds=1))
    assert found is not None and found.id == created.id
    assert store.statements == before


async def test_last_use_is_written_at_most_once_a_minute_through_the_cache(
    store: SqliteStore,
) -> None:
    created = await store.create_token("ci", Role.PUBLISHER, HASH, "admin", T0)
    await store.token_by_hash(HASH, T0)
    before = store.statements
    for s in range(1, 200):  # a request a second for 199 s
        await store.token_by_hash(HASH, T0 + timedelta(seconds=s))
    [listed] = [t for t in await store.tokens() if t.id == created.id]
    # Written when over a minute old, as without a cache: at 61 s, 122 s and 183 s.
    assert listed.last_used_at == T0 + timedelta(seconds=183)
    ttl = int(TTL.total_seconds())
    assert store.statements - before == 199 // ttl + 3 + 1  # re-reads, writes, the list
