"""The domain as plain data: messages, deliveries, events, channel states, tokens.

Frozen dataclasses and enums, shared by the store, the scheduler, the API and the CLI.
Times are timezone-aware UTC ``datetime``s everywhere.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class DeliveryState(enum.StrEnum):
    """Where one message stands on one channel.

    ``pending`` waits for its time (first send or a retry); ``sending`` is claimed by a daemon;
    ``failed`` was refused for good by the platform (permanent error); ``dead`` spent its retry
    budget on transient errors; ``skipped`` was never tried because its channel was unusable
    when the message was routed (the route moved on to the next tier).
    """

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD = "dead"
    EXPIRED = "expired"
    MISSED = "missed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def final(self) -> bool:
        return self not in (DeliveryState.PENDING, DeliveryState.SENDING)


class MessageState(enum.StrEnum):
    """A message's overall state, derived from its deliveries."""

    SCHEDULED = "scheduled"  # nothing due yet
    QUEUED = "queued"  # some delivery pending or sending
    DELIVERED = "delivered"  # every delivery that ran was delivered
    PARTIAL = "partial"  # some delivered, some not
    FAILED = "failed"  # none delivered and nothing left to try
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    MISSED = "missed"  # found too late, not sent (route's lateness policy)


class Role(enum.IntEnum):
    """API roles; each includes the powers of those below it."""

    VIEWER = 1
    PUBLISHER = 2
    OPERATOR = 3
    ADMIN = 4

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(
                f"unknown role {name!r}; expected one of {', '.join(r.name.lower() for r in cls)}"
            ) from None

    @property
    def label(self) -> str:
        return self.name.lower()


class Health(enum.StrEnum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"


class Forced(enum.StrEnum):
    AUTO = "auto"
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True)
class ImageRef:
    """An image stored in the media directory by content hash."""

    sha256: str
    content_type: str
    alt: str = ""
    size: int = 0


@dataclass(frozen=True)
class NewMessage:
    """A message as a client asks for it, validated, before it is stored."""

    text: str
    route: str
    created_by: str
    title: str | None = None
    link: str | None = None
    images: tuple[ImageRef, ...] = ()
    content_warning: str | None = None
    language: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    scheduled_at: datetime | None = None
    expires_at: datetime | None = None
    thread: int | None = None  # id of an earlier message this one continues
    idempotency_key: str | None = None
    request_hash: str | None = None
    traceparent: str | None = None  # W3C trace context of the acceptance (tracing on)


@dataclass(frozen=True)
class Message:
    id: int
    text: str
    route: str
    created_by: str
    created_at: datetime
    title: str | None = None
    link: str | None = None
    images: tuple[ImageRef, ...] = ()
    content_warning: str | None = None
    language: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    scheduled_at: datetime | None = None
    expires_at: datetime | None = None
    thread_id: int | None = None  # the root message of the thread (itself for a root)
    idempotency_key: str | None = None
    cancelled_at: datetime | None = None
    request_hash: str | None = None  # to tell a replay from a reused idempotency key
    traceparent: str | None = None  # W3C trace context of the acceptance (tracing on)


@dataclass(frozen=True)
class Delivery:
    id: int
    message_id: int
    channel: str
    tier: int
    state: DeliveryState
    due_at: datetime
    attempts: int = 0
    first_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_error: str | None = None
    remote_id: str | None = None
    url: str | None = None
    receipt: dict[str, Any] = field(default_factory=dict)  # Receipt.extra, per-part receipts
    progress: dict[str, Any] = field(default_factory=dict)
    uncertain: bool = False
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None
    updated_at: datetime | None = None
    claim_epoch: int = 0  # bumped by every claim: writes are fenced on (claimed_by, epoch)


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    number: int
    started_at: datetime
    finished_at: datetime
    outcome: str  # delivered | transient | rate_limited | permanent | error
    error: str | None = None
    status: int | None = None
    claimed_by: str | None = None  # the daemon that made the attempt
    claim_epoch: int | None = None  # under which claim of the delivery


@dataclass(frozen=True)
class Event:
    id: int
    at: datetime
    kind: str
    actor: str | None = None
    channel: str | None = None
    message_id: int | None = None
    delivery_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChannelState:
    """A channel's health as the store keeps it, so it survives restarts."""

    channel: str
    health: Health = Health.UNKNOWN
    forced: Forced = Forced.AUTO
    since: datetime | None = None
    reason: str = ""
    forced_by: str | None = None
    late_cursor: datetime | None = None  # when the last late (catch-up) send may go out

    @property
    def effective(self) -> Health:
        if self.forced is Forced.DOWN:
            return Health.DOWN
        if self.forced is Forced.UP:
            return Health.UP
        return self.health


class UnusableKind(enum.StrEnum):
    """Why a channel cannot take a message now. Only DOWN passes: the rest need an operator."""

    DOWN = "down"  # health (or an operator's force) says down; it may come back by itself
    DISABLED = "disabled"  # ``enabled = false`` in the config
    NO_CREDENTIALS = "no_credentials"  # secrets named in the config are missing
    BROKEN = "broken"  # options invalid, or the adapter failed to open
    NOT_CONFIGURED = "not_configured"  # no channel of this name (any more)
    # Send gating only (HealthBoard.may_send): deliveries already on a down channel wait.
    FORCED_DOWN = "forced_down"  # an operator holds it down
    COOLING_DOWN = "cooling_down"  # down, and its cool-down is not over


@dataclass(frozen=True)
class Unusable:
    """A channel that cannot take a message now, and why. ``reason`` is what is stored and
    shown (a skipped delivery's note starts with "down" exactly when ``kind`` is DOWN)."""

    kind: UnusableKind
    reason: str

    @property
    def down(self) -> bool:
        return self.kind is UnusableKind.DOWN

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class Token:
    id: int
    name: str
    role: Role
    created_at: datetime
    created_by: str | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


def message_state(message: Message, deliveries: list[Delivery]) -> MessageState:
    """Summarise a message from its deliveries (skipped ones do not count)."""
    if message.cancelled_at is not None:
        return MessageState.CANCELLED
    states = [d.state for d in deliveries if d.state is not DeliveryState.SKIPPED]
    if not states:
        return MessageState.FAILED
    if any(s in (DeliveryState.PENDING, DeliveryState.SENDING) for s in states):
        if all(s is DeliveryState.PENDING for s in states) and all(
            d.attempts == 0 and message.scheduled_at is not None and d.due_at > message.created_at
            for d in deliveries
            if d.state is DeliveryState.PENDING
        ):
            return MessageState.SCHEDULED
        return MessageState.QUEUED
    delivered = sum(s is DeliveryState.DELIVERED for s in states)
    if delivered == len(states):
        return MessageState.DELIVERED
    if delivered:
        return MessageState.PARTIAL
    if all(s is DeliveryState.EXPIRED for s in states):
        return MessageState.EXPIRED
    if all(s is DeliveryState.MISSED for s in states):
        return MessageState.MISSED
    if all(s is DeliveryState.CANCELLED for s in states):
        return MessageState.CANCELLED
    return MessageState.FAILED
