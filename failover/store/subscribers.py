"""The store's part for the status page's subscribers: email (double opt-in) and webhooks.

A mixin of the store (like ``failover/store/fediverse.py``), so SQLite and PostgreSQL pass the
same contract tests. Confirmation tokens are stored as hashes only; confirming is one
conditional UPDATE, so a link works once even when two clicks race.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from failover.clock import utc
from failover.store.sql_access import Row, SqlAccess

KINDS = ("email", "webhook")
STATES = ("pending", "confirmed", "suppressed", "unsubscribed")


@dataclass(frozen=True)
class Subscriber:
    id: int
    kind: str  # email | webhook
    address: str  # lower-cased email address, or the hook's URL
    contact_email: str | None
    secret: str | None
    components: tuple[str, ...]  # () = every component
    state: str  # pending | confirmed | suppressed | unsubscribed
    token_hash: str | None
    token_expires_at: datetime | None
    unsubscribe_key: str
    failures: int
    last_error: str | None
    created_at: datetime
    confirmed_at: datetime | None
    updated_at: datetime

    def wants(self, components: Sequence[str] | None) -> bool:
        """Whether news about ``components`` (None: not about any component) reaches them."""
        return not self.components or not components or bool(set(components) & set(self.components))


@dataclass(frozen=True)
class HookRetry:
    """A copy a webhook subscriber missed, claimed to be sent again (with the hook's URL and
    secret as they are now)."""

    id: int
    subscriber_id: int
    channel: str
    attempts: int  # POSTs so far, the first one included
    copy_key: str  # the Idempotency-Key it was first sent with
    message_id: int
    body: bytes  # exactly as first sent
    address: str
    secret: str | None
    claim: float  # the claim's lease end exactly as stored: with the owner, it is the claim


@dataclass(frozen=True)
class NewSubscriber:
    """A row as an import or an operator creates it (no form, no rate limit)."""

    kind: str
    address: str
    state: str
    unsubscribe_key: str
    components: tuple[str, ...] = ()
    contact_email: str | None = None
    secret: str | None = None
    token_hash: str | None = None
    token_expires_at: datetime | None = None
    created_at: datetime | None = None
    confirmed_at: datetime | None = None


class SubscriberStore(abc.ABC):
    """What the subscribers need durably; each method is one transaction."""

    @abc.abstractmethod
    async def sub_subscribe_email(
        self, address: str, components: Sequence[str], unsubscribe_key: str, now: datetime
    ) -> Subscriber:
        """Create a pending row or return the existing one: a pending or unsubscribed row
        becomes pending with the new components; a confirmed one stays confirmed (its
        components change only by unsubscribing); a suppressed one is left as it is (an
        address that hard-bounced is not mailed again)."""

    @abc.abstractmethod
    async def sub_set_token(
        self, subscriber_id: int, token_hash: str, expires_at: datetime, now: datetime
    ) -> bool:
        """Give a pending or confirmed row a new confirmation token (replacing any older)."""

    @abc.abstractmethod
    async def sub_insert(self, new: NewSubscriber, now: datetime) -> Subscriber | None:
        """Insert a row; None when one with the same kind and address exists."""

    @abc.abstractmethod
    async def sub_get(self, subscriber_id: int) -> Subscriber | None: ...

    @abc.abstractmethod
    async def sub_by_unsubscribe_key(self, key: str) -> Subscriber | None: ...

    @abc.abstractmethod
    async def sub_confirm(
        self, subscriber_id: int, token_hash: str, now: datetime
    ) -> Subscriber | None:
        """Confirm when the token matches and has not expired; the token is cleared, so
        this succeeds once. None otherwise."""

    @abc.abstractmethod
    async def sub_unsubscribe(self, key: str, now: datetime) -> Subscriber | None:
        """Unsubscribe the row with this one-click key; None if unknown or already done."""

    @abc.abstractmethod
    async def sub_suppress(self, address: str, error: str, now: datetime) -> bool:
        """Mark an email address that hard-bounced; it is not mailed again."""

    @abc.abstractmethod
    async def sub_list(
        self, kind: str | None, state: str | None, limit: int, offset: int
    ) -> list[Subscriber]: ...

    @abc.abstractmethod
    async def sub_counts(self) -> dict[str, dict[str, int]]:
        """kind -> state -> how many."""

    @abc.abstractmethod
    async def sub_delete(self, subscriber_id: int) -> bool:
        """Erase the row (not a flag): nothing about the subscriber stays."""

    @abc.abstractmethod
    async def sub_confirmed(self, kind: str) -> list[Subscriber]: ...

    @abc.abstractmethod
    async def sub_message_components(self, message_id: int) -> list[str] | None:
        """The components of the incident a message belongs to (as an update or its first
        post); None when the message belongs to no incident."""

    @abc.abstractmethod
    async def sub_hook_result(
        self, subscriber_id: int, error: str | None, now: datetime, copy_key: str | None = None
    ) -> Subscriber | None:
        """Record a delivery to a webhook subscriber: success resets ``failures``, a
        failure adds one. Returns the updated row. On success, a retry of ``copy_key`` is
        no longer needed and the hook's other missed copies are due now."""

    @abc.abstractmethod
    async def hook_retry_add(
        self, subscriber_id: int, channel: str, copy: tuple[str, int, bytes], due_at: datetime,
        error: str, now: datetime,
    ) -> bool:  # fmt: skip
        """Keep ``copy`` (Idempotency-Key, message id, body) to send to a confirmed hook again
        at ``due_at``; False when the hook is gone or already waits for this copy."""

    @abc.abstractmethod
    async def hook_retry_claim(
        self, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[HookRetry]:
        """Claim copies due now (a claim another daemon holds is skipped until it expires);
        due copies of hooks no longer confirmed are dropped first."""

    @abc.abstractmethod
    async def hook_retry_finish(
        self, retry: HookRetry, owner: str, now: datetime, *, due_at: datetime | None,
        error: str | None, gave_up: dict[str, object] | None = None,
    ) -> bool:  # fmt: skip
        """Send it again at ``due_at``, or forget it (None: taken or given up; ``gave_up``
        is then the ``subscriber.hook_gave_up`` event's detail). False if the claim was lost."""

    @abc.abstractmethod
    async def hook_retry_next_due(self, now: datetime) -> datetime | None:
        """When the soonest unclaimed copy is due."""

    @abc.abstractmethod
    async def hook_retry_counts(self) -> dict[int, int]:
        """Subscriber id -> copies waiting to be sent again."""

    @abc.abstractmethod
    async def sub_attempts(self, key: str, since: datetime) -> tuple[int, datetime | None]:
        """How many subscribe attempts ``key`` made since ``since``, and the oldest one."""

    @abc.abstractmethod
    async def sub_record_attempt(
        self, keys: Sequence[str], now: datetime, forget_before: datetime
    ) -> None:
        """Remember an attempt under each key; attempts before ``forget_before`` are dropped."""


class SqlSubscriberStore(SubscriberStore, SqlAccess):
    """The SQL behind ``SubscriberStore``, on the dialect's transactions and named queries."""

    async def _one(self, query: str, params: dict[str, Any]) -> Subscriber | None:
        async with self._tx() as db:
            rows = await db.fetch(query, **params)
        return _subscriber(rows[0]) if rows else None

    async def sub_subscribe_email(
        self, address: str, components: Sequence[str], unsubscribe_key: str, now: datetime
    ) -> Subscriber:
        found = await self._one(
            "sub_subscribe_email",
            {
                "address": address,
                "components": json.dumps(list(components)),
                "unsubscribe_key": unsubscribe_key,
                "now": now.timestamp(),
            },
        )
        assert found is not None  # an upsert always returns its row
        return found

    async def sub_set_token(
        self, subscriber_id: int, token_hash: str, expires_at: datetime, now: datetime
    ) -> bool:
        params = {
            "id": subscriber_id, "token_hash": token_hash,
            "expires_at": expires_at.timestamp(), "now": now.timestamp(),
        }  # fmt: skip
        async with self._tx() as db:
            return await db.run("sub_set_token", params) > 0

    async def sub_insert(self, new: NewSubscriber, now: datetime) -> Subscriber | None:
        ts = now.timestamp()
        return await self._one(
            "sub_insert",
            {
                "kind": new.kind,
                "address": new.address,
                "contact_email": new.contact_email,
                "secret": new.secret,
                "components": json.dumps(list(new.components)),
                "state": new.state,
                "token_hash": new.token_hash,
                "expires_at": new.token_expires_at.timestamp() if new.token_expires_at else None,
                "unsubscribe_key": new.unsubscribe_key,
                "created_at": new.created_at.timestamp() if new.created_at else ts,
                "confirmed_at": new.confirmed_at.timestamp() if new.confirmed_at else None,
                "now": ts,
            },
        )

    async def sub_get(self, subscriber_id: int) -> Subscriber | None:
        rows = await self._all("sub_get", id=subscriber_id)
        return _subscriber(rows[0]) if rows else None

    async def sub_by_unsubscribe_key(self, key: str) -> Subscriber | None:
        rows = await self._all("sub_by_unsubscribe_key", key=key)
        return _subscriber(rows[0]) if rows else None

    async def sub_confirm(
        self, subscriber_id: int, token_hash: str, now: datetime
    ) -> Subscriber | None:
        params = {"id": subscriber_id, "token_hash": token_hash, "now": now.timestamp()}
        return await self._one("sub_confirm", params)

    async def sub_unsubscribe(self, key: str, now: datetime) -> Subscriber | None:
        return await self._one("sub_unsubscribe", {"key": key, "now": now.timestamp()})

    async def sub_suppress(self, address: str, error: str, now: datetime) -> bool:
        async with self._tx() as db:
            params = {"address": address, "error": error[:500], "now": now.timestamp()}
            return await db.run("sub_suppress", params) > 0

    async def sub_list(
        self, kind: str | None, state: str | None, limit: int, offset: int
    ) -> list[Subscriber]:
        # Off the loop: the CSV export asks for every subscriber at once.
        rows = await self._all_large("sub_list", kind=kind, state=state, limit=limit, offset=offset)
        return [_subscriber(r) for r in rows]

    async def sub_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
        for r in await self._all("sub_counts"):
            counts.setdefault(str(r["kind"]), {})[str(r["state"])] = int(r["n"])
        return counts

    async def sub_delete(self, subscriber_id: int) -> bool:
        async with self._tx() as db:
            gone = await db.run("sub_delete", {"id": subscriber_id}) > 0  # its retries too
            await db.run("hook_copies_prune", {})
            return gone

    async def sub_confirmed(self, kind: str) -> list[Subscriber]:
        return [_subscriber(r) for r in await self._all_large("sub_confirmed", kind=kind)]

    async def sub_message_components(self, message_id: int) -> list[str] | None:
        if not await self._all("sub_message_is_incident", message_id=message_id):
            return None
        rows = await self._all("sub_message_components", message_id=message_id)
        return sorted(str(r["component_id"]) for r in rows)

    async def sub_hook_result(
        self, subscriber_id: int, error: str | None, now: datetime, copy_key: str | None = None
    ) -> Subscriber | None:
        ts = now.timestamp()
        if error is not None:
            params = {"id": subscriber_id, "error": error[:500], "now": ts}
            return await self._one("sub_hook_failure", params)
        async with self._tx() as db:
            if copy_key is not None and await db.run(
                "hook_retry_taken", {"id": subscriber_id, "key": copy_key}
            ):
                await db.run("hook_copies_prune", {})
            await db.run("hook_retry_sooner", {"id": subscriber_id, "now": ts})
            rows = await db.fetch("sub_hook_success", id=subscriber_id, now=ts)
        return _subscriber(rows[0]) if rows else None

    async def hook_retry_add(
        self, subscriber_id: int, channel: str, copy: tuple[str, int, bytes], due_at: datetime,
        error: str, now: datetime,
    ) -> bool:  # fmt: skip
        key, message_id, body = copy
        ts = now.timestamp()
        async with self._tx() as db:
            params = {"key": key, "message_id": message_id, "body": body.decode(), "now": ts}
            await db.run("hook_copy_put", params)
            added = await db.run("hook_retry_add", {
                "subscriber_id": subscriber_id, "key": key, "channel": channel,
                "due_at": due_at.timestamp(), "error": error[:500], "now": ts,
            })  # fmt: skip
            if not added:
                await db.run("hook_copies_prune", {})
            return added > 0

    async def hook_retry_claim(
        self, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[HookRetry]:
        ts, until = now.timestamp(), lease_until.timestamp()
        async with self._tx() as db:
            if await db.run("hook_retry_drop_unsubscribed", {"now": ts}):
                await db.run("hook_copies_prune", {})
            params = {"owner": owner, "lease_until": until}
            if not await db.fetch("hook_retry_claim", now=ts, limit=limit, **params):
                return []
            return [_hook_retry(r) for r in await db.fetch("hook_retry_claimed", **params)]

    async def hook_retry_finish(
        self, retry: HookRetry, owner: str, now: datetime, *, due_at: datetime | None,
        error: str | None, gave_up: dict[str, object] | None = None,
    ) -> bool:  # fmt: skip
        claim = {"id": retry.id, "owner": owner, "lease_until": retry.claim}
        async with self._tx() as db:
            if due_at is not None:
                return await db.run("hook_retry_again", {
                    **claim, "attempts": retry.attempts + 1, "due_at": due_at.timestamp(),
                    "error": None if error is None else error[:500],
                }) > 0  # fmt: skip
            if not await db.run("hook_retry_done", claim):
                return False
            await db.run("hook_copies_prune", {})
            if gave_up is not None:
                await db.run("hook_gave_up_event", {
                    "now": now.timestamp(), "channel": retry.channel,
                    "message_id": retry.message_id, "detail": json.dumps(gave_up),
                })  # fmt: skip
            return True

    async def hook_retry_next_due(self, now: datetime) -> datetime | None:
        rows = await self._all("hook_retry_next_due", now=now.timestamp())
        return utc(rows[0]["t"]) if rows and rows[0]["t"] is not None else None

    async def hook_retry_counts(self) -> dict[int, int]:
        return {int(r["subscriber_id"]): int(r["n"]) for r in await self._all("hook_retry_counts")}

    async def sub_attempts(self, key: str, since: datetime) -> tuple[int, datetime | None]:
        rows = await self._all("sub_attempts_count", key=key, since=since.timestamp())
        oldest = rows[0]["oldest"] if rows else None
        return (int(rows[0]["n"]) if rows else 0), (utc(oldest) if oldest is not None else None)

    async def sub_record_attempt(
        self, keys: Sequence[str], now: datetime, forget_before: datetime
    ) -> None:
        async with self._tx() as db:
            await db.run("sub_attempts_prune", {"before": forget_before.timestamp()})
            await db.run_many(
                "sub_attempt_insert", [{"key": k, "now": now.timestamp()} for k in keys]
            )


def _hook_retry(r: Row) -> HookRetry:
    return HookRetry(
        id=int(r["id"]), subscriber_id=int(r["subscriber_id"]), channel=r["channel"],
        attempts=int(r["attempts"]), copy_key=r["copy_key"], message_id=int(r["message_id"]),
        body=str(r["body"]).encode(), address=r["address"], secret=r["secret"],
        claim=float(r["claim_until"]),
    )  # fmt: skip


def _subscriber(r: Row) -> Subscriber:
    expires, confirmed = r["token_expires_at"], r["confirmed_at"]
    return Subscriber(
        id=int(r["id"]),
        kind=r["kind"],
        address=r["address"],
        contact_email=r["contact_email"],
        secret=r["secret"],
        components=tuple(json.loads(r["components"] or "[]")),
        state=r["state"],
        token_hash=r["token_hash"],
        token_expires_at=utc(expires) if expires is not None else None,
        unsubscribe_key=r["unsubscribe_key"],
        failures=int(r["failures"]),
        last_error=r["last_error"],
        created_at=utc(r["created_at"]),
        confirmed_at=utc(confirmed) if confirmed is not None else None,
        updated_at=utc(r["updated_at"]),
    )
