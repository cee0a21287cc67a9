"""The store interface: every piece of durable state goes through it.

Implementations: ``SqliteStore`` (embedded default) and, for several daemons on one
database, a PostgreSQL store. Work is claimed with an expiring lease, never with in-process
locks, so a crashed daemon's claims are taken over once they expire; a live daemon renews
its own (``renew_claims``). Every write that changes a delivery checks the claim owner and
epoch (fencing), so a daemon whose lease has lapsed cannot overwrite the work of the one
that took over.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from failover.model import (
    Attempt,
    ChannelState,
    Delivery,
    DeliveryState,
    Event,
    Forced,
    Health,
    Message,
    NewMessage,
    Role,
    Token,
)
from failover.store.fediverse import FediverseStore
from failover.store.status import StatusStore
from failover.store.subscribers import SubscriberStore


class Accepted(NamedTuple):
    """What ``create_message`` did. ``created`` False: the idempotency key was used before,
    ``message`` is that earlier one and ``deliveries`` is empty (read them if needed)."""

    message: Message
    created: bool
    deliveries: list[Delivery]  # as created, in the same transaction


@dataclass(frozen=True)
class NewDelivery:
    channel: str
    tier: int
    state: DeliveryState
    due_at: datetime
    note: str | None = None  # why, for skipped deliveries


@dataclass(frozen=True)
class NewEvent:
    kind: str
    actor: str | None = None
    channel: str | None = None
    message_id: int | None = None
    delivery_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended, as the dispatcher records it."""

    state: DeliveryState
    due_at: datetime  # the next attempt's time when ``state`` is pending
    started_at: datetime | None
    finished_at: datetime
    attempt_outcome: str  # delivered | transient | rate_limited | permanent | error | late
    error: str | None = None
    status: int | None = None
    remote_id: str | None = None
    url: str | None = None
    receipt: dict[str, Any] = field(default_factory=dict)
    progress: dict[str, Any] = field(default_factory=dict)
    uncertain: bool = False
    attempted: bool = True  # False when the platform was not called (missed, expired, paced)


@dataclass(frozen=True)
class NodeInfo:
    """A daemon that heartbeats into this store."""

    node: str
    started_at: datetime
    seen_at: datetime
    leads: bool
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WebSession:
    """A logged-in browser: which token opened it and until when (never its secret)."""

    id: int
    token: Token
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime | None = None
    client: str | None = None


@dataclass(frozen=True)
class QueueFront:
    """The head of the queue, as a scheduler pass sees it."""

    due: dict[str, int]  # channel -> deliveries due now or holding a lapsed claim (up to cap)
    next_due_at: datetime | None  # the next after ``now``: due time or another's claim end
    expires_at: datetime | None  # the soonest expiry of a message still pending


@dataclass(frozen=True)
class QueueStats:
    pending: int
    due: int
    sending: int
    oldest_due_at: datetime | None


class Store(FediverseStore, StatusStore, SubscriberStore, abc.ABC):
    """Durable state. Every method is one transaction; methods return only committed data."""

    # True when several daemons may share this store at once (PostgreSQL). A store that is
    # not shared belongs to one daemon, so claims found in it at start are from a dead run.
    shared: bool = False
    # What this store has run, for bench/throughput.py's statements per delivered message:
    # SQL statements (BEGIN and COMMIT not counted) and committed write transactions.
    statements: int = 0
    commits: int = 0

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date (refusing a newer one)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise StoreError unless the store can write now (a write check that changes nothing)."""

    # messages ------------------------------------------------------------------------------

    @abc.abstractmethod
    async def create_message(
        self,
        new: NewMessage,
        deliveries: Sequence[NewDelivery],
        events: Sequence[NewEvent],
        now: datetime,
    ) -> Accepted:
        """Store a message and its first deliveries atomically.

        With an idempotency key already used, store nothing and return the earlier message.
        """

    @abc.abstractmethod
    async def message(self, message_id: int) -> Message | None: ...

    @abc.abstractmethod
    async def message_by_key(self, key: str) -> Message | None: ...

    @abc.abstractmethod
    async def messages(
        self, *, limit: int = 50, before: int | None = None, route: str | None = None
    ) -> list[Message]: ...

    @abc.abstractmethod
    async def posts_delivered_on(
        self, channel: str, limit: int
    ) -> list[tuple[Message, datetime | None]]:
        """Messages delivered to ``channel`` (not retracted there, not incident updates),
        newest first, with when: the public page's announcements, the same on every daemon."""

    @abc.abstractmethod
    async def deliveries(self, message_id: int) -> list[Delivery]: ...

    @abc.abstractmethod
    async def delivery(self, delivery_id: int) -> Delivery | None: ...

    @abc.abstractmethod
    async def attempts(self, delivery_id: int) -> list[Attempt]: ...

    @abc.abstractmethod
    async def cancel_message(self, message_id: int, actor: str, now: datetime) -> list[Delivery]:
        """Cancel a message's pending deliveries; return them. NotFound/Conflict otherwise."""

    @abc.abstractmethod
    async def add_deliveries(
        self,
        message_id: int,
        deliveries: Sequence[NewDelivery],
        events: Sequence[NewEvent],
        now: datetime,
    ) -> list[Delivery]:
        """Add deliveries (rerouting); a channel the message already has is left alone."""

    @abc.abstractmethod
    async def thread_receipts(self, thread_id: int, channel: str, exclude: int) -> list[Delivery]:
        """Delivered deliveries on ``channel`` of the thread's messages, oldest first."""

    @abc.abstractmethod
    async def pending_on(self, channel: str) -> list[Delivery]:
        """Pending (unclaimed) deliveries of a channel, oldest due first."""

    @abc.abstractmethod
    async def skip_pending(
        self, delivery_id: int, reason: str, events: Sequence[NewEvent], now: datetime
    ) -> Delivery | None:
        """Move a still-pending delivery to ``skipped`` (its channel went down); None if not pending."""

    @abc.abstractmethod
    async def skipped_since(
        self, channel: str, since: datetime, min_created: datetime, now: datetime
    ) -> list[Delivery]:
        """Deliveries skipped because ``channel`` was down since ``since``, of live messages
        created after ``min_created``, oldest message first (what a failback may backfill)."""

    @abc.abstractmethod
    async def revive_skipped(
        self,
        delivery_id: int,
        due_at: datetime,
        note: str,
        events: Sequence[NewEvent],
        now: datetime,
    ) -> Delivery | None:
        """Turn a skipped delivery back into a pending one (failback backfill)."""

    # claiming and outcomes -----------------------------------------------------------------

    @abc.abstractmethod
    async def due_channels(self, now: datetime) -> dict[str, int]:
        """Channels with claimable work now, and how much."""

    @abc.abstractmethod
    async def claim_due(
        self, channel: str, now: datetime, owner: str, lease_until: datetime, limit: int
    ) -> list[Delivery]:
        """Claim up to ``limit`` due deliveries of ``channel`` (and expired claims of others)."""

    @abc.abstractmethod
    async def claim(
        self, channel: str, now: datetime, owner: str, lease_until: datetime, limit: int
    ) -> list[tuple[Delivery, Message]]:
        """``claim_due``, each delivery with its message, in the claim's own statement: the
        dispatcher needs both, and one round trip per batch beats one per delivery."""

    @abc.abstractmethod
    async def next_due_at(self, owner: str) -> datetime | None:
        """When something next becomes claimable or expires (None: nothing waits)."""

    @abc.abstractmethod
    async def queue_front(self, now: datetime, owner: str, cap: int) -> QueueFront:
        """``due_channels`` and what ``next_due_at`` would say after claiming them, in one
        read: a scheduler pass costs this read and one claim per channel. Each channel's
        count stops at ``cap``: a pass needs to know "more than I can start", not how many
        thousands wait, and counting them all made every pass as slow as the backlog."""

    @abc.abstractmethod
    async def expire_due(self, now: datetime) -> list[Delivery]:
        """Mark pending deliveries of messages past ``expires_at`` as expired."""

    @abc.abstractmethod
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
        """Record an attempt's outcome and release the claim; None if the claim was lost.

        Fenced on ``owner`` and, when given, on the claim ``epoch``: a daemon that lost its
        claim (even to itself, by claiming the delivery again) cannot record over the new one.
        """

    @abc.abstractmethod
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
        """Persist partial progress (parts posted, recipients done) of a claimed delivery."""

    @abc.abstractmethod
    async def renew_claims(
        self, owner: str, claims: Sequence[tuple[int, int]], lease_until: datetime
    ) -> set[tuple[int, int]]:
        """Extend ``owner``'s claims (delivery id, epoch) to ``lease_until``; the ones it
        still held. A claim missing from the answer was finished or taken over."""

    @abc.abstractmethod
    async def release_claims(self, owner: str | None, now: datetime) -> list[Delivery]:
        """Give back claims (all of them when ``owner`` is None) as pending and uncertain."""

    @abc.abstractmethod
    async def queue_stats(self, now: datetime) -> QueueStats: ...

    # events and channel state --------------------------------------------------------------

    @abc.abstractmethod
    async def add_events(self, events: Sequence[NewEvent], now: datetime) -> None: ...

    @abc.abstractmethod
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
        """Newest first."""

    @abc.abstractmethod
    async def channel_states(self) -> dict[str, ChannelState]: ...

    # Each change of a channel's row touches only its own columns, in one statement, so that
    # writers never undo each other (a health change or a late slot never resets a force).

    @abc.abstractmethod
    async def set_channel_health(
        self,
        channel: str,
        health: Health,
        since: datetime | None,
        reason: str,
        events: Sequence[NewEvent],
        now: datetime,
    ) -> ChannelState:
        """Record a health transition; the operator's force and the late cursor stay as they are.
        Returns the whole row as stored now."""

    @abc.abstractmethod
    async def set_channel_forced(
        self,
        channel: str,
        forced: Forced,
        forced_by: str | None,
        reason: str | None,
        events: Sequence[NewEvent],
        now: datetime,
    ) -> ChannelState:
        """Record an operator's force (``reason`` None keeps the current one); health and the
        late cursor stay as they are. Returns the whole row as stored now."""

    @abc.abstractmethod
    async def advance_late_cursor(self, channel: str, now: datetime, spacing: float) -> datetime:
        """Hand out the channel's next late-send slot (``now``, or the cursor if later) and move
        the cursor ``spacing`` past it, in one statement. Returns the slot."""

    # tokens --------------------------------------------------------------------------------

    @abc.abstractmethod
    async def create_token(
        self, name: str, role: Role, token_hash: str, created_by: str | None, now: datetime
    ) -> Token: ...

    @abc.abstractmethod
    async def tokens(self) -> list[Token]: ...

    @abc.abstractmethod
    async def token_by_hash(self, token_hash: str, now: datetime) -> Token | None:
        """The live token with this hash (its last use is recorded), or None."""

    @abc.abstractmethod
    async def revoke_token(self, token_id: int, now: datetime) -> bool: ...

    # web sessions --------------------------------------------------------------------------

    @abc.abstractmethod
    async def create_session(
        self,
        token_id: int,
        session_hash: str,
        client: str | None,
        now: datetime,
        expires_at: datetime,
    ) -> int:
        """Store a web session opened with a token (only the hash of its secret); its id."""

    @abc.abstractmethod
    async def session_by_hash(self, session_hash: str, now: datetime) -> WebSession | None:
        """The unexpired session with this hash whose token is live, or None."""

    @abc.abstractmethod
    async def sessions(self, now: datetime) -> list[WebSession]:
        """Every live session, oldest first (what an admin may end one by one)."""

    @abc.abstractmethod
    async def end_session(self, session_id: int, actor: str | None, now: datetime) -> bool:
        """Delete a session (logout, or an admin ending it); False if there was none."""

    @abc.abstractmethod
    async def edit_message(
        self,
        message_id: int,
        fields: dict[str, Any],
        due_at: datetime | None,
        actor: str,
        now: datetime,
    ) -> Message:
        """Change a message none of whose deliveries has started (all pending, no attempt);
        ``due_at``, when given, moves its pending deliveries. Raises NotFound or Conflict."""

    # cluster -------------------------------------------------------------------------------

    @abc.abstractmethod
    async def heartbeat(self, node: str, info: dict[str, Any], ttl: float, now: datetime) -> None:
        """Record that ``node`` is alive for ``ttl`` more seconds."""

    @abc.abstractmethod
    async def nodes(self, now: datetime) -> list[NodeInfo]:
        """The daemons alive now, oldest first, with which one leads."""

    @abc.abstractmethod
    async def forget(self, node: str) -> None:
        """A clean stop: ``node`` leaves the cluster (and its leadership) at once."""

    @abc.abstractmethod
    async def try_lead(self, node: str, ttl: float, now: datetime) -> int | None:
        """Take or renew the leader lease for ``ttl`` seconds; its epoch, or None if another
        daemon holds an unexpired lease."""

    async def listen(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever another daemon adds due work; returns when cancelled.

        A store owned by one daemon has nobody else to hear from: it returns at once.
        """
        return None
