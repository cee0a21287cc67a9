"""The store's logic in SQL, shared by the SQLite and PostgreSQL stores.

Each dialect supplies its named queries (``queries.load``: ``sql/common/`` plus the few of
its own, same names, same parameters), a transaction (``Tx``: run a named query, fetch its rows) and a way to read
outside one; everything else, including how rows become models, is written once here. Times
are stored as UTC epoch seconds and JSON as text in both dialects, so rows convert the same.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from failover.clock import utc
from failover.errors import Conflict, NotFound
from failover.model import (
    Attempt,
    ChannelState,
    Delivery,
    DeliveryState,
    Event,
    Forced,
    Health,
    ImageRef,
    Message,
    NewMessage,
    Role,
    Token,
)
from failover.store.base import (
    Accepted,
    NewDelivery,
    NewEvent,
    NodeInfo,
    Outcome,
    QueueFront,
    QueueStats,
    Store,
    WebSession,
)
from failover.store.fediverse import SqlFediverseStore
from failover.store.sql_access import Row, Tx
from failover.store.status import SqlStatusStore
from failover.store.subscribers import SqlSubscriberStore
from failover.store.token_cache import TokenCache

T = TypeVar("T")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ts(dt: datetime | None) -> float | None:
    return None if dt is None else dt.timestamp()


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else utc(ts)


async def settle(work: Awaitable[T]) -> T:
    """Await ``work`` to its end even if this task is cancelled meanwhile, then re-raise the
    cancellation: a rollback or commit cut short would leave the connection half-open."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        if not task.cancelled():
            task.exception()  # retrieved: the cancellation is the news
        raise asyncio.CancelledError
    return task.result()


class SqlStore(SqlFediverseStore, SqlStatusStore, SqlSubscriberStore, Store):
    """Everything but connections, transactions and migrations, which the dialects own."""

    # messages ------------------------------------------------------------------------------

    async def create_message(
        self,
        new: NewMessage,
        deliveries: Sequence[NewDelivery],
        events: Sequence[NewEvent],
        now: datetime,
    ) -> Accepted:
        async with self._tx() as db:
            rows = await db.fetch(
                "insert_message",
                text=new.text,
                title=new.title,
                link=new.link,
                images=json.dumps([vars(i) for i in new.images]),
                content_warning=new.content_warning,
                language=new.language,
                overrides=json.dumps(new.overrides),
                route=new.route,
                created_by=new.created_by,
                created_at=now.timestamp(),
                scheduled_at=_ts(new.scheduled_at),
                expires_at=_ts(new.expires_at),
                thread_id=new.thread,
                idempotency_key=new.idempotency_key,
                request_hash=new.request_hash,
                traceparent=new.traceparent,
                # the deliveries and events, for a dialect that writes them in the same statement
                deliveries=_deliveries_json(deliveries),
                events=_events_json(events),
            )
            if not rows:  # the idempotency key was used before: that message, unchanged
                rows = await db.fetch("message_by_idempotency_key", key=new.idempotency_key)
                return Accepted(_message(rows[0]), False, [])
            message = _message(rows[0])  # a new thread's root points at itself already
            if rows[0]["recorded"]:  # PostgreSQL: written by the same statement
                added = sorted(map(_delivery, json.loads(rows[0]["deliveries"])), key=_id)
            else:
                added = await _insert_deliveries(db, message.id, deliveries, now)
                await _insert_events(db, [_with_message(e, message.id) for e in events], now)
            await db.notify()
            return Accepted(message, True, added)

    async def message(self, message_id: int) -> Message | None:
        rows = await self._all("message_by_id", id=message_id)
        return _message(rows[0]) if rows else None

    async def message_by_key(self, key: str) -> Message | None:
        rows = await self._all("message_by_idempotency_key", key=key)
        return _message(rows[0]) if rows else None

    async def messages(
        self, *, limit: int = 50, before: int | None = None, route: str | None = None
    ) -> list[Message]:
        rows = await self._all("list_messages", limit=limit, before=before, route=route)
        return [_message(r) for r in rows]

    async def posts_delivered_on(
        self, channel: str, limit: int
    ) -> list[tuple[Message, datetime | None]]:
        rows = await self._all("posts_delivered_on", channel=channel, limit=limit)
        return [(_message(r), _utc_or_none(r["delivered_at"])) for r in rows]

    async def deliveries(self, message_id: int) -> list[Delivery]:
        return [
            _delivery(r) for r in await self._all("deliveries_of_message", message_id=message_id)
        ]

    async def delivery(self, delivery_id: int) -> Delivery | None:
        rows = await self._all("delivery_by_id", id=delivery_id)
        return _delivery(rows[0]) if rows else None

    async def attempts(self, delivery_id: int) -> list[Attempt]:
        rows = await self._all("attempts_of_delivery", delivery_id=delivery_id)
        return [
            Attempt(
                delivery_id=r["delivery_id"],
                number=r["number"],
                started_at=utc(r["started_at"]),
                finished_at=utc(r["finished_at"]),
                outcome=r["outcome"],
                error=r["error"],
                status=r["status"],
                claimed_by=r["claimed_by"],
                claim_epoch=r["claim_epoch"],
            )
            for r in rows
        ]

    async def cancel_message(self, message_id: int, actor: str, now: datetime) -> list[Delivery]:
        async with self._tx() as db:
            rows = await db.fetch("message_by_id", id=message_id)
            if not rows:
                raise NotFound(f"no message {message_id}")
            if rows[0]["cancelled_at"] is not None:
                raise Conflict(f"message {message_id} is already cancelled")
            cancelled = [
                _delivery(r)
                for r in await db.fetch(
                    "cancel_pending_deliveries", message_id=message_id, now=now.timestamp()
                )
            ]
            if not cancelled:
                raise Conflict(f"message {message_id} has nothing pending left to cancel")
            await db.run("cancel_message", {"id": message_id, "now": now.timestamp()})
            await _insert_events(
                db,
                [
                    NewEvent(
                        "message.cancelled",
                        actor=actor,
                        message_id=message_id,
                        detail={"channels": [d.channel for d in cancelled]},
                    )
                ],
                now,
            )
            return cancelled

    async def add_deliveries(
        self,
        message_id: int,
        deliveries: Sequence[NewDelivery],
        events: Sequence[NewEvent],
        now: datetime,
    ) -> list[Delivery]:
        async with self._tx() as db:
            added = await _insert_deliveries(db, message_id, deliveries, now)
            await _insert_events(db, events, now)
            if added:
                await db.notify()
            return added

    async def thread_receipts(self, thread_id: int, channel: str, exclude: int) -> list[Delivery]:
        rows = await self._all(
            "thread_deliveries", thread_id=thread_id, channel=channel, exclude=exclude
        )
        return [_delivery(r) for r in rows]

    async def pending_on(self, channel: str) -> list[Delivery]:
        return [_delivery(r) for r in await self._all("pending_on_channel", channel=channel)]

    async def skip_pending(
        self, delivery_id: int, reason: str, events: Sequence[NewEvent], now: datetime
    ) -> Delivery | None:
        async with self._tx() as db:
            rows = await db.fetch(
                "skip_pending", id=delivery_id, reason=reason, now=now.timestamp()
            )
            if not rows:
                return None
            await _insert_events(db, events, now)
            return _delivery(rows[0])

    async def skipped_since(
        self, channel: str, since: datetime, min_created: datetime, now: datetime
    ) -> list[Delivery]:
        rows = await self._all(
            "skipped_since",
            channel=channel,
            since=since.timestamp(),
            min_created=min_created.timestamp(),
            now=now.timestamp(),
        )
        return [_delivery(r) for r in rows]

    async def revive_skipped(
        self,
        delivery_id: int,
        due_at: datetime,
        note: str,
        events: Sequence[NewEvent],
        now: datetime,
    ) -> Delivery | None:
        async with self._tx() as db:
            rows = await db.fetch(
                "revive_skipped",
                id=delivery_id,
                due_at=due_at.timestamp(),
                note=note,
                now=now.timestamp(),
            )
            if not rows:
                return None
            await _insert_events(db, events, now)
            await db.notify()
            return _delivery(rows[0])

    # claiming and outcomes -----------------------------------------------------------------

    async def due_channels(self, now: datetime) -> dict[str, int]:
        rows = await self._all("due_channels", now=now.timestamp())
        return {r["channel"]: r["n"] for r in rows}

    async def claim_due(
        self, channel: str, now: datetime, owner: str, lease_until: datetime, limit: int
    ) -> list[Delivery]:
        return [d for d, _ in await self.claim(channel, now, owner, lease_until, limit)]

    async def claim(
        self, channel: str, now: datetime, owner: str, lease_until: datetime, limit: int
    ) -> list[tuple[Delivery, Message]]:
        async with self._tx() as db:
            rows = await db.fetch(
                "claim_due",
                channel=channel,
                now=now.timestamp(),
                owner=owner,
                lease_until=lease_until.timestamp(),
                limit=limit,
            )
        return sorted(((_delivery(r), _claimed_message(r)) for r in rows), key=_due_order)

    async def next_due_at(self, owner: str) -> datetime | None:
        rows = await self._all("next_due_at", owner=owner)
        return _dt(rows[0]["t"]) if rows else None

    async def queue_front(self, now: datetime, owner: str, cap: int) -> QueueFront:
        rows = await self._all("queue_front", now=now.timestamp(), owner=owner, cap=cap)
        [times] = [r for r in rows if r["channel"] is None]
        return QueueFront(
            due={r["channel"]: r["n"] for r in rows if r["channel"] is not None and r["n"]},
            next_due_at=_dt(times["t"]),
            expires_at=_dt(times["e"]),
        )

    async def expire_due(self, now: datetime) -> list[Delivery]:
        async with self._tx() as db:
            expired = [_delivery(r) for r in await db.fetch("expire_due", now=now.timestamp())]
            await _insert_events(
                db,
                [
                    NewEvent(
                        "delivery.expired",
                        channel=d.channel,
                        message_id=d.message_id,
                        delivery_id=d.id,
                    )
                    for d in expired
                ],
                now,
            )
            return expired

    async def finish(
        self,
        delivery_id: int,
        owner: str,
        outcome: Outcome,
        events: Sequence[NewEvent],
        now: datetime,
        *,
        epoch: int | None = None,
    ) -> Delivery | None:
        attempt = outcome.started_at if outcome.attempted else None
        async with self._tx() as db:
            rows = await db.fetch(
                "finish_delivery",
                id=delivery_id,
                owner=owner,
                epoch=epoch,
                state=outcome.state.value,
                due_at=outcome.due_at.timestamp(),
                attempted=1 if outcome.attempted else 0,
                started_at=_ts(attempt),
                last_error=outcome.error,
                remote_id=outcome.remote_id,
                url=outcome.url,
                receipt=json.dumps(outcome.receipt),
                progress=json.dumps(outcome.progress),
                uncertain=1 if outcome.uncertain else 0,
                now=now.timestamp(),
                # the attempt and the events, for a dialect that writes them in the same statement
                finished_at=outcome.finished_at.timestamp(),
                outcome=outcome.attempt_outcome,
                error=outcome.error,
                status=outcome.status,
                events=_events_json(events),
            )
            if not rows:
                return None
            delivery = _delivery(rows[0])
            if rows[0]["recorded"]:  # PostgreSQL: written by the same statement
                return delivery
            if attempt is not None:
                await _insert_attempt(db, delivery, attempt, outcome, owner, epoch)
            await _insert_events(db, events, now)
            return delivery

    async def save_progress(
        self,
        delivery_id: int,
        owner: str,
        progress: dict[str, Any],
        receipt: dict[str, Any],
        now: datetime,
        *,
        epoch: int | None = None,
    ) -> bool:
        async with self._tx() as db:
            n = await db.run(
                "save_progress",
                {
                    "id": delivery_id,
                    "owner": owner,
                    "epoch": epoch,
                    "progress": json.dumps(progress),
                    "receipt": json.dumps(receipt),
                    "now": now.timestamp(),
                },
            )
            return n == 1

    async def renew_claims(
        self, owner: str, claims: Sequence[tuple[int, int]], lease_until: datetime
    ) -> set[tuple[int, int]]:
        if not claims:
            return set()
        async with self._tx() as db:
            rows = await db.fetch(
                "renew_claims",
                owner=owner,
                ids=json.dumps([i for i, _ in claims]),  # by primary key, not a scan
                claims=json.dumps([f"{i}:{e}" for i, e in claims]),
                lease_until=lease_until.timestamp(),
            )
            return {(r["id"], r["claim_epoch"]) for r in rows}

    async def release_claims(self, owner: str | None, now: datetime) -> list[Delivery]:
        async with self._tx() as db:
            rows = await db.fetch("release_claims", owner=owner, now=now.timestamp())
            return [_delivery(r) for r in rows]

    async def queue_stats(self, now: datetime) -> QueueStats:
        row = (await self._all("queue_stats", now=now.timestamp()))[0]
        return QueueStats(
            pending=row["pending"] or 0,
            due=row["due"] or 0,
            sending=row["sending"] or 0,
            oldest_due_at=_dt(row["oldest_due"]),
        )

    # events and channel state --------------------------------------------------------------

    async def add_events(self, events: Sequence[NewEvent], now: datetime) -> None:
        async with self._tx() as db:
            await _insert_events(db, events, now)

    async def events(
        self,
        *,
        limit: int = 100,
        channel: str | None = None,
        message_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after: int | None = None,
    ) -> list[Event]:
        rows = await self._all(
            "list_events",
            limit=limit,
            channel=channel,
            message_id=message_id,
            since=_ts(since),
            until=_ts(until),
            after=after,
        )
        return [
            Event(
                id=r["id"],
                at=utc(r["at"]),
                kind=r["kind"],
                actor=r["actor"],
                channel=r["channel"],
                message_id=r["message_id"],
                delivery_id=r["delivery_id"],
                detail=json.loads(r["detail"]),
            )
            for r in rows
        ]

    async def channel_states(self) -> dict[str, ChannelState]:
        rows = await self._all("channel_states")
        return {r["channel"]: _channel_state(r) for r in rows}

    async def set_channel_health(
        self,
        channel: str,
        health: Health,
        since: datetime | None,
        reason: str,
        events: Sequence[NewEvent],
        now: datetime,
    ) -> ChannelState:
        async with self._tx() as db:
            rows = await db.fetch(
                "set_channel_health",
                channel=channel,
                health=health.value,
                since=_ts(since),
                reason=reason,
            )
            await _insert_events(db, events, now)
            return _channel_state(rows[0])

    async def set_channel_forced(
        self,
        channel: str,
        forced: Forced,
        forced_by: str | None,
        reason: str | None,
        events: Sequence[NewEvent],
        now: datetime,
    ) -> ChannelState:
        async with self._tx() as db:
            rows = await db.fetch(
                "set_channel_forced",
                channel=channel,
                forced=forced.value,
                forced_by=forced_by,
                since=now.timestamp(),
                reason=reason,
            )
            await _insert_events(db, events, now)
            return _channel_state(rows[0])

    async def advance_late_cursor(self, channel: str, now: datetime, spacing: float) -> datetime:
        async with self._tx() as db:
            rows = await db.fetch(
                "advance_late_cursor", channel=channel, now=now.timestamp(), spacing=spacing
            )
        return utc(rows[0]["late_cursor"] - spacing)

    # tokens --------------------------------------------------------------------------------

    async def create_token(
        self, name: str, role: Role, token_hash: str, created_by: str | None, now: datetime
    ) -> Token:
        async with self._tx() as db:
            rows = await db.fetch(
                "insert_token",
                name=name,
                role=role.label,
                hash=token_hash,
                created_at=now.timestamp(),
                created_by=created_by,
            )
            await _insert_events(
                db,
                [
                    NewEvent(
                        "token.created", actor=created_by, detail={"name": name, "role": role.label}
                    )
                ],
                now,
            )
            return _token(rows[0])

    async def tokens(self) -> list[Token]:
        return [_token(r) for r in await self._all("list_tokens")]

    @functools.cached_property
    def _tokens_seen(self) -> TokenCache:
        """Tokens looked up lately: an API request reads no row (failover/store/token_cache.py)."""
        return TokenCache()

    async def token_by_hash(self, token_hash: str, now: datetime) -> Token | None:
        token = self._tokens_seen.get(token_hash, now)
        if token is None:
            generation = self._tokens_seen.generation
            rows = await self._all("token_by_hash", hash=token_hash)
            if not rows or rows[0]["revoked_at"] is not None:
                return None
            token = _token(rows[0])
            self._tokens_seen.put(token_hash, token, now, generation)
        if _stale(token.last_used_at, now):
            async with self._tx() as db:
                await db.run("touch_token", {"id": token.id, "now": now.timestamp()})
            self._tokens_seen.used(token_hash, replace(token, last_used_at=now))
        return token

    async def revoke_token(self, token_id: int, now: datetime) -> bool:
        async with self._tx() as db:
            n = await db.run("revoke_token", {"id": token_id, "now": now.timestamp()})
            if n:
                await db.run("delete_token_sessions", {"token_id": token_id})
                await _insert_events(db, [NewEvent("token.revoked", detail={"id": token_id})], now)
        # After the commit: a read that began before it is refused by the cache's generation.
        self._tokens_seen.forget(token_id)
        return n == 1

    # web sessions --------------------------------------------------------------------------

    async def create_session(
        self,
        token_id: int,
        session_hash: str,
        client: str | None,
        now: datetime,
        expires_at: datetime,
    ) -> int:
        async with self._tx() as db:
            await db.run("delete_expired_sessions", {"now": now.timestamp()})
            rows = await db.fetch(
                "insert_session", hash=session_hash, token_id=token_id, now=now.timestamp(),
                expires_at=expires_at.timestamp(), client=client,
            )  # fmt: skip
            return int(rows[0]["id"])

    async def session_by_hash(self, session_hash: str, now: datetime) -> WebSession | None:
        rows = await self._all("session_by_hash", hash=session_hash, now=now.timestamp())
        if not rows:
            return None
        found = _session(rows[0])
        if _stale(found.last_seen_at, now):
            async with self._tx() as db:
                await db.run("touch_session", {"id": found.id, "now": now.timestamp()})
        return found

    async def sessions(self, now: datetime) -> list[WebSession]:
        return [_session(r) for r in await self._all("list_sessions", now=now.timestamp())]

    async def end_session(self, session_id: int, actor: str | None, now: datetime) -> bool:
        async with self._tx() as db:
            n = await db.run("delete_session", {"id": session_id})
            if n and actor is not None:
                event = NewEvent("session.ended", actor=actor, detail={"id": session_id})
                await _insert_events(db, [event], now)
            return n == 1

    async def edit_message(
        self,
        message_id: int,
        fields: dict[str, Any],
        due_at: datetime | None,
        actor: str,
        now: datetime,
    ) -> Message:
        async with self._tx() as db:
            current = await _editable(db, message_id)
            merged = {
                "text": current.text,
                "title": current.title,
                "link": current.link,
                "content_warning": current.content_warning,
                "language": current.language,
                "overrides": current.overrides,
                "scheduled_at": current.scheduled_at,
                "expires_at": current.expires_at,
                **fields,
            }
            stored = {
                **merged,
                "overrides": json.dumps(merged["overrides"]),
                "scheduled_at": _ts(merged["scheduled_at"]),
                "expires_at": _ts(merged["expires_at"]),
            }
            rows = await db.fetch("update_message", id=message_id, **stored)
            if due_at is not None:
                await db.run(
                    "reschedule_deliveries",
                    {
                        "message_id": message_id,
                        "due_at": due_at.timestamp(),
                        "now": now.timestamp(),
                    },
                )
                await db.notify()
            event = NewEvent(
                "message.edited",
                actor=actor,
                message_id=message_id,
                detail={"fields": sorted(fields)},
            )
            await _insert_events(db, [event], now)
            return _message(rows[0])

    # cluster -------------------------------------------------------------------------------

    async def heartbeat(self, node: str, info: dict[str, Any], ttl: float, now: datetime) -> None:
        async with self._tx() as db:
            await db.run(
                "heartbeat",
                {"node": node, "now": now.timestamp(), "ttl": ttl, "info": json.dumps(info)},
            )

    async def nodes(self, now: datetime) -> list[NodeInfo]:
        return [
            NodeInfo(
                node=r["node"],
                started_at=utc(r["started_at"]),
                seen_at=utc(r["seen_at"]),
                leads=bool(r["leads"]),
                info=json.loads(r["info"]),
            )
            for r in await self._all("live_nodes", now=now.timestamp())
        ]

    async def forget(self, node: str) -> None:
        async with self._tx() as db:
            await db.run("resign", {"node": node})
            await db.run("forget_node", {"node": node})

    async def try_lead(self, node: str, ttl: float, now: datetime) -> int | None:
        async with self._tx() as db:
            rows = await db.fetch("try_lead", node=node, ttl=ttl, now=now.timestamp())
            return int(rows[0]["epoch"]) if rows else None


# --- rows <-> models ---------------------------------------------------------------------------


async def _editable(db: Tx, message_id: int) -> Message:
    """The message to edit, once known to exist, not cancelled and not started on any
    channel; its deliveries are locked (PostgreSQL), so no daemon claims one meanwhile."""
    rows = await db.fetch("message_by_id", id=message_id)
    if not rows:
        raise NotFound(f"no message {message_id}")
    current = _message(rows[0])
    if current.cancelled_at is not None:
        raise Conflict(f"message {message_id} is cancelled")
    started = {
        d.channel
        for d in map(_delivery, await db.fetch("lock_deliveries", message_id=message_id))
        if d.state not in (DeliveryState.PENDING, DeliveryState.SKIPPED) or d.attempts
    }
    if started:
        raise Conflict(
            f"message {message_id} can no longer be edited: sending has started on "
            f"{', '.join(sorted(started))}"
        )
    return current


async def _insert_deliveries(
    db: Tx, message_id: int, deliveries: Sequence[NewDelivery], now: datetime
) -> list[Delivery]:
    """One statement for all of them; those already there (same channel) are left alone."""
    if not deliveries:
        return []
    rows = await db.fetch(
        "insert_deliveries",
        message_id=message_id,
        now=now.timestamp(),
        deliveries=_deliveries_json(deliveries),
    )
    return sorted(map(_delivery, rows), key=_id)


def _deliveries_json(deliveries: Sequence[NewDelivery]) -> str:
    return json.dumps(
        [
            {
                "channel": d.channel,
                "tier": d.tier,
                "state": d.state.value,
                "due_us": _micros(d.due_at),
                "note": d.note,
            }
            for d in deliveries
        ]
    )


def _id(delivery: Delivery) -> int:
    return delivery.id


async def _insert_attempt(
    db: Tx, delivery: Delivery, started: datetime, outcome: Outcome, owner: str, epoch: int | None
) -> None:
    await db.run(
        "insert_attempt",
        {
            "delivery_id": delivery.id,
            "number": delivery.attempts,
            "started_at": started.timestamp(),
            "finished_at": outcome.finished_at.timestamp(),
            "outcome": outcome.attempt_outcome,
            "error": outcome.error,
            "status": outcome.status,
            "owner": owner,
            "epoch": delivery.claim_epoch if epoch is None else epoch,
        },
    )


async def _insert_events(db: Tx, events: Sequence[NewEvent], now: datetime) -> None:
    """One statement for all of them, in order."""
    if events:
        await db.run("insert_events", {"at": now.timestamp(), "events": _events_json(events)})


def _events_json(events: Sequence[NewEvent]) -> str:
    return json.dumps(
        [
            {
                "kind": e.kind,
                "actor": e.actor,
                "channel": e.channel,
                "message_id": e.message_id,
                "delivery_id": e.delivery_id,
                "detail": json.dumps(e.detail),
            }
            for e in events
        ]
    )


def _micros(dt: datetime) -> int:
    """Whole microseconds since the epoch: divided by 1e6 in SQL, ``dt.timestamp()`` exactly."""
    return (dt - EPOCH) // timedelta(microseconds=1)


def _with_message(event: NewEvent, message_id: int) -> NewEvent:
    if event.message_id is not None:
        return event
    return NewEvent(
        event.kind, event.actor, event.channel, message_id, event.delivery_id, event.detail
    )


def _message(r: Row) -> Message:
    return Message(
        id=r["id"],
        text=r["text"],
        route=r["route"],
        created_by=r["created_by"],
        created_at=utc(r["created_at"]),
        title=r["title"],
        link=r["link"],
        images=tuple(ImageRef(**i) for i in json.loads(r["images"])),
        content_warning=r["content_warning"],
        language=r["language"],
        overrides=json.loads(r["overrides"]),
        scheduled_at=_dt(r["scheduled_at"]),
        expires_at=_dt(r["expires_at"]),
        thread_id=r["thread_id"],
        idempotency_key=r["idempotency_key"],
        cancelled_at=_dt(r["cancelled_at"]),
        request_hash=r["request_hash"],
        traceparent=r["traceparent"],
    )


# A message's columns as a claim returns them beside its delivery's, prefixed m_.
_MESSAGE_COLUMNS = (
    "text", "title", "link", "images", "content_warning", "language", "overrides", "route",
    "created_by", "created_at", "scheduled_at", "expires_at", "thread_id", "idempotency_key",
    "request_hash", "cancelled_at", "traceparent",
)  # fmt: skip


def _claimed_message(r: Row) -> Message:
    return _message({"id": r["message_id"], **{c: r[f"m_{c}"] for c in _MESSAGE_COLUMNS}})


def _due_order(claimed: tuple[Delivery, Message]) -> tuple[datetime, int]:
    return claimed[0].due_at, claimed[0].id


def _delivery(r: Row) -> Delivery:
    return Delivery(
        id=r["id"],
        message_id=r["message_id"],
        channel=r["channel"],
        tier=r["tier"],
        state=DeliveryState(r["state"]),
        due_at=utc(r["due_at"]),
        attempts=r["attempts"],
        first_attempt_at=_dt(r["first_attempt_at"]),
        last_attempt_at=_dt(r["last_attempt_at"]),
        last_error=r["last_error"],
        remote_id=r["remote_id"],
        url=r["url"],
        receipt=json.loads(r["receipt"]),
        progress=json.loads(r["progress"]),
        uncertain=bool(r["uncertain"]),
        claimed_by=r["claimed_by"],
        claim_expires_at=_dt(r["claim_expires_at"]),
        updated_at=_dt(r["updated_at"]),
        claim_epoch=r["claim_epoch"],
    )


def _channel_state(r: Row) -> ChannelState:
    return ChannelState(
        channel=r["channel"],
        health=Health(r["health"]),
        forced=Forced(r["forced"]),
        since=_dt(r["since"]),
        reason=r["reason"],
        forced_by=r["forced_by"],
        late_cursor=_dt(r["late_cursor"]),
    )


def _token(r: Row) -> Token:
    return Token(
        id=r["id"],
        name=r["name"],
        role=Role.parse(r["role"]),
        created_at=utc(r["created_at"]),
        created_by=r["created_by"],
        revoked_at=_dt(r["revoked_at"]),
        last_used_at=_dt(r["last_used_at"]),
    )


def _stale(last: datetime | None, now: datetime) -> bool:
    """A last-use time worth rewriting: at most one write a minute, not one per request."""
    return last is None or (now - last).total_seconds() > 60


def _session(r: Row) -> WebSession:
    return WebSession(
        id=int(r["session_id"]),
        token=_token(r),
        created_at=utc(r["session_created_at"]),
        expires_at=utc(r["expires_at"]),
        last_seen_at=_dt(r["last_seen_at"]),
        client=r["client"],
    )


def _utc_or_none(ts: float | None) -> datetime | None:
    return None if ts is None else utc(ts)
