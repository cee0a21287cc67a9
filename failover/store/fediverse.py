"""The store's part for the daemon's own fediverse actor (channel type ``activitypub``).

Its key and handle (one row, shared by every daemon of a cluster), its followers, the objects
it published (outbox), and one delivery row per (activity, inbox) with its own retries: the
channel's ledger. A mixin of the store, so every backend passes the same contract tests.
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


@dataclass(frozen=True)
class ActorRecord:
    username: str
    domain: str
    base_url: str
    private_key: str
    created_at: datetime


@dataclass(frozen=True)
class Follower:
    actor: str
    inbox: str
    shared_inbox: str | None
    follow_id: str
    state: str  # pending | accepted
    handle: str | None
    created_at: datetime


@dataclass(frozen=True)
class InboxDelivery:
    """One activity to one inbox; ``body`` is present on claimed rows."""

    id: int
    activity_id: str
    message_id: int | None
    inbox: str
    host: str
    state: str  # pending | delivered | failed
    attempts: int
    due_at: datetime
    last_status: int | None
    last_error: str | None
    updated_at: datetime
    body: str | None = None


@dataclass(frozen=True)
class HostRecord:
    host: str
    failures: int  # consecutive failed attempts (circuit breaker)
    failure_days: tuple[str, ...]  # distinct UTC days (YYYY-MM-DD) with failures
    open_until: datetime | None  # breaker open: no attempt before then
    unavailable: bool


@dataclass(frozen=True)
class Publication:
    """An activity to store and fan out: the Note it publishes (None for Accept etc.)."""

    activity_id: str
    body: str  # the activity, as JSON text
    message_id: int | None = None
    note_id: str | None = None
    note: str | None = None  # JSON text of the Note
    create: str | None = None  # JSON text of the Create that first published it
    deleted: bool = False


class FediverseStore(abc.ABC):
    """What the actor needs durably; each method is one transaction."""

    @abc.abstractmethod
    async def ap_actor(self) -> ActorRecord | None: ...

    @abc.abstractmethod
    async def ap_create_actor(self, record: ActorRecord) -> ActorRecord:
        """Insert the actor unless one exists (another daemon may race); return the stored one."""

    @abc.abstractmethod
    async def ap_move_actor(
        self, username: str, domain: str, base_url: str, now: datetime
    ) -> None: ...

    @abc.abstractmethod
    async def ap_add_follower(self, follower: Follower, now: datetime) -> Follower: ...

    @abc.abstractmethod
    async def ap_follower(self, actor: str) -> Follower | None: ...

    @abc.abstractmethod
    async def ap_remove_follower(self, actor: str) -> bool: ...

    @abc.abstractmethod
    async def ap_approve_follower(self, actor: str, now: datetime) -> Follower | None: ...

    @abc.abstractmethod
    async def ap_followers(self, state: str, limit: int, offset: int) -> list[Follower]: ...

    @abc.abstractmethod
    async def ap_follower_counts(self) -> dict[str, int]: ...

    @abc.abstractmethod
    async def ap_inbox_count(self) -> int:
        """Distinct inboxes (shared where there is one) of the accepted followers."""

    @abc.abstractmethod
    async def ap_publish(
        self,
        pub: Publication,
        inboxes: Sequence[str] | None,
        unavailable: str,
        now: datetime,
    ) -> int:
        """Store the activity (and its Note) and queue it to ``inboxes`` (None: every distinct
        inbox of the accepted followers) in one transaction; return how many were queued.
        Inboxes on hosts marked unavailable are recorded as failed with ``unavailable``."""

    @abc.abstractmethod
    async def ap_object(self, note_id: str) -> tuple[dict[str, Any], dict[str, Any], bool] | None:
        """(Note, Create, deleted) of a published object."""

    @abc.abstractmethod
    async def ap_outbox(self, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """Newest first: the Create activities of live objects, and how many there are."""

    @abc.abstractmethod
    async def ap_claim(
        self, owner: str, now: datetime, lease_until: datetime, limit: int, per_host: int = 4
    ) -> list[InboxDelivery]:
        """Claim up to ``limit`` due deliveries, with at most ``per_host`` in flight per host
        (so a host that hangs cannot take every slot)."""

    @abc.abstractmethod
    async def ap_finish(
        self,
        delivery: InboxDelivery,
        owner: str,
        state: str,
        due_at: datetime,
        status: int | None,
        error: str | None,
        host: HostRecord | None,
        now: datetime,
    ) -> bool:
        """Record an attempt and the host's new breaker state (None: forget the host)."""

    @abc.abstractmethod
    async def ap_next_due(self, now: datetime) -> datetime | None:
        """When a delivery next becomes claimable (due, breaker closed, claim expired)."""

    @abc.abstractmethod
    async def ap_host(self, host: str) -> HostRecord | None: ...

    @abc.abstractmethod
    async def ap_clear_host(self, host: str) -> None: ...

    @abc.abstractmethod
    async def ap_deliveries(self, message_id: int) -> list[InboxDelivery]: ...

    @abc.abstractmethod
    async def ap_delivery_counts(self, message_id: int | None = None) -> dict[str, int]: ...

    @abc.abstractmethod
    async def ap_failing_inboxes(self, since: datetime) -> int: ...

    @abc.abstractmethod
    async def ap_first_sight(self, activity_id: str, now: datetime, keep_since: datetime) -> bool:
        """Remember an incoming activity id; False when it was seen before (a duplicate)."""

    @abc.abstractmethod
    async def ap_seen(self, activity_id: str) -> bool:
        """Whether an incoming activity id is remembered (handled before)."""

    @abc.abstractmethod
    async def ap_put_media(self, name: str, content_type: str, data: bytes, now: datetime) -> None:
        """Keep an image of a published Note (names are content hashes: a repeat is a no-op)."""

    @abc.abstractmethod
    async def ap_media(self, name: str) -> tuple[str, bytes] | None: ...


class SqlFediverseStore(FediverseStore, SqlAccess):
    """The SQL behind ``FediverseStore``, on the dialect's transactions and named queries."""

    async def ap_actor(self) -> ActorRecord | None:
        rows = await self._all("ap_actor_get")
        return _actor(rows[0]) if rows else None

    async def ap_create_actor(self, record: ActorRecord) -> ActorRecord:
        async with self._tx() as db:
            params = {
                "username": record.username,
                "domain": record.domain,
                "base_url": record.base_url,
                "private_key": record.private_key,
                "now": record.created_at.timestamp(),
            }
            await db.run("ap_actor_insert", params)
            return _actor((await db.fetch("ap_actor_get"))[0])

    async def ap_move_actor(self, username: str, domain: str, base_url: str, now: datetime) -> None:
        async with self._tx() as db:
            params = {"username": username, "domain": domain, "base_url": base_url}
            await db.run("ap_actor_move", {**params, "now": now.timestamp()})

    async def ap_add_follower(self, follower: Follower, now: datetime) -> Follower:
        async with self._tx() as db:
            rows = await db.fetch(
                "ap_follower_upsert",
                actor=follower.actor,
                inbox=follower.inbox,
                shared_inbox=follower.shared_inbox,
                follow_id=follower.follow_id,
                state=follower.state,
                handle=follower.handle,
                now=now.timestamp(),
            )
            return _follower(rows[0])

    async def ap_follower(self, actor: str) -> Follower | None:
        rows = await self._all("ap_follower_get", actor=actor)
        return _follower(rows[0]) if rows else None

    async def ap_remove_follower(self, actor: str) -> bool:
        async with self._tx() as db:
            return await db.run("ap_follower_delete", {"actor": actor}) > 0

    async def ap_approve_follower(self, actor: str, now: datetime) -> Follower | None:
        async with self._tx() as db:
            rows = await db.fetch("ap_follower_accept", actor=actor, now=now.timestamp())
            return _follower(rows[0]) if rows else None

    async def ap_followers(self, state: str, limit: int, offset: int) -> list[Follower]:
        rows = await self._all("ap_followers_list", state=state, limit=limit, offset=offset)
        return [_follower(r) for r in rows]

    async def ap_follower_counts(self) -> dict[str, int]:
        return {str(r["state"]): int(r["n"]) for r in await self._all("ap_follower_counts")}

    async def ap_inbox_count(self) -> int:
        return len(await self._all_large("ap_inboxes"))

    async def ap_publish(
        self,
        pub: Publication,
        inboxes: Sequence[str] | None,
        unavailable: str,
        now: datetime,
    ) -> int:
        ts = now.timestamp()
        async with self._tx() as db:
            if pub.note_id is not None and pub.note is not None:
                known = await db.fetch("ap_object_get", id=pub.note_id)
                await db.run(
                    "ap_object_put",
                    {
                        "id": pub.note_id,
                        "message_id": pub.message_id,
                        "note": pub.note,
                        "activity": known[0]["activity"] if known else pub.create or pub.body,
                        "now": ts,
                        "deleted_at": ts if pub.deleted else None,
                    },
                )
            await db.run(
                "ap_activity_insert",
                {"id": pub.activity_id, "object_id": pub.note_id, "body": pub.body, "now": ts},
            )
            if inboxes is None:
                inboxes = [str(r["inbox"]) for r in await db.fetch("ap_inboxes")]
            down = {str(r["host"]) for r in await db.fetch("ap_hosts_unavailable")}
            rows = []
            for inbox in inboxes:
                host = host_of(inbox)
                rows.append({
                    "activity_id": pub.activity_id, "message_id": pub.message_id,
                    "inbox": inbox, "host": host, "now": ts,
                    "state": "failed" if host in down else "pending",
                    "error": unavailable if host in down else None,
                })  # fmt: skip
            before = await db.fetch("ap_pending_of_activity", activity_id=pub.activity_id)
            if rows:
                await db.run_many("ap_delivery_insert", rows)
            after = await db.fetch("ap_pending_of_activity", activity_id=pub.activity_id)
            return int(after[0]["n"]) - int(before[0]["n"])

    async def ap_object(self, note_id: str) -> tuple[dict[str, Any], dict[str, Any], bool] | None:
        rows = await self._all("ap_object_get", id=note_id)
        if not rows:
            return None
        r = rows[0]
        return json.loads(r["note"]), json.loads(r["activity"]), r["deleted_at"] is not None

    async def ap_outbox(self, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        rows = await self._all("ap_outbox_page", limit=limit, offset=offset)
        total = int((await self._all("ap_outbox_count"))[0]["n"])
        return [json.loads(r["activity"]) for r in rows], total

    async def ap_claim(
        self, owner: str, now: datetime, lease_until: datetime, limit: int, per_host: int = 4
    ) -> list[InboxDelivery]:
        async with self._tx() as db:
            params = {"owner": owner, "lease_until": lease_until.timestamp()}
            claimed = await db.fetch(
                "ap_delivery_claim", now=now.timestamp(), limit=limit, per_host=per_host, **params
            )
            if not claimed:
                return []
            return [_delivery(r) for r in await db.fetch("ap_delivery_claimed", **params)]

    async def ap_finish(
        self,
        delivery: InboxDelivery,
        owner: str,
        state: str,
        due_at: datetime,
        status: int | None,
        error: str | None,
        host: HostRecord | None,
        now: datetime,
    ) -> bool:
        async with self._tx() as db:
            changed = await db.run(
                "ap_delivery_finish",
                {
                    "id": delivery.id, "owner": owner, "state": state, "status": status,
                    "due_at": due_at.timestamp(), "error": error, "now": now.timestamp(),
                },
            )  # fmt: skip
            if not changed:
                return False  # the claim was lost: another daemon owns this row now
            if host is None:
                await db.run("ap_host_clear", {"host": delivery.host})
            else:
                await db.run("ap_host_put", _host_params(host, now))
            return True

    async def ap_next_due(self, now: datetime) -> datetime | None:
        rows = await self._all("ap_delivery_next_due", now=now.timestamp())
        return utc(rows[0]["t"]) if rows and rows[0]["t"] is not None else None

    async def ap_host(self, host: str) -> HostRecord | None:
        rows = await self._all("ap_host_get", host=host)
        if not rows:
            return None
        r = rows[0]
        return HostRecord(
            host=r["host"],
            failures=int(r["failures"]),
            failure_days=tuple(json.loads(r["failure_days"])),
            open_until=utc(r["open_until"]) if r["open_until"] is not None else None,
            unavailable=bool(r["unavailable"]),
        )

    async def ap_clear_host(self, host: str) -> None:
        async with self._tx() as db:
            await db.run("ap_host_clear", {"host": host})

    async def ap_deliveries(self, message_id: int) -> list[InboxDelivery]:
        return [
            _delivery(r) for r in await self._all("ap_deliveries_of_message", message_id=message_id)
        ]

    async def ap_delivery_counts(self, message_id: int | None = None) -> dict[str, int]:
        rows = await self._all("ap_delivery_counts", message_id=message_id)
        return {str(r["state"]): int(r["n"]) for r in rows}

    async def ap_failing_inboxes(self, since: datetime) -> int:
        rows = await self._all("ap_failing_inboxes", since=since.timestamp())
        return int(rows[0]["n"])

    async def ap_first_sight(self, activity_id: str, now: datetime, keep_since: datetime) -> bool:
        async with self._tx() as db:
            await db.run("ap_seen_prune", {"before": keep_since.timestamp()})
            return await db.run("ap_seen_insert", {"id": activity_id, "now": now.timestamp()}) > 0

    async def ap_seen(self, activity_id: str) -> bool:
        return bool(await self._all("ap_seen_get", id=activity_id))

    async def ap_put_media(self, name: str, content_type: str, data: bytes, now: datetime) -> None:
        async with self._tx() as db:
            params = {"name": name, "content_type": content_type, "data": data}
            await db.run("ap_media_put", {**params, "now": now.timestamp()})

    async def ap_media(self, name: str) -> tuple[str, bytes] | None:
        rows = await self._all("ap_media_get", name=name)
        return (str(rows[0]["content_type"]), bytes(rows[0]["data"])) if rows else None


def host_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc.lower()


def _host_params(host: HostRecord, now: datetime) -> dict[str, Any]:
    return {
        "host": host.host,
        "failures": host.failures,
        "failure_days": json.dumps(list(host.failure_days)),
        "open_until": host.open_until.timestamp() if host.open_until else None,
        "unavailable": 1 if host.unavailable else 0,
        "now": now.timestamp(),
    }


def _actor(r: Row) -> ActorRecord:
    return ActorRecord(
        username=r["username"],
        domain=r["domain"],
        base_url=r["base_url"],
        private_key=r["private_key"],
        created_at=utc(r["created_at"]),
    )


def _follower(r: Row) -> Follower:
    return Follower(
        actor=r["actor"],
        inbox=r["inbox"],
        shared_inbox=r["shared_inbox"],
        follow_id=r["follow_id"],
        state=r["state"],
        handle=r["handle"],
        created_at=utc(r["created_at"]),
    )


def _delivery(r: Row) -> InboxDelivery:
    return InboxDelivery(
        id=int(r["id"]),
        activity_id=r["activity_id"],
        message_id=r["message_id"],
        inbox=r["inbox"],
        host=r["host"],
        state=r["state"],
        attempts=int(r["attempts"]),
        due_at=utc(r["due_at"]),
        last_status=r["last_status"],
        last_error=r["last_error"],
        updated_at=utc(r["updated_at"]),
        body=r.get("body"),
    )
