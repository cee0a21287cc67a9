"""The small interface between failover's core and its channel adapters.

An adapter *declares* (its options, its limits) and *acts* (open, send one post, check, close).
It never sleeps, retries, reroutes or touches the store: it raises one of the three errors
below and the core's dispatcher decides what happens next. This module imports nothing from
``failover`` so that third-party adapters can depend on it alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

__all__ = [
    "IMAGE_EXTENSIONS",
    "IMAGE_TYPES",
    "Channel",
    "ChannelContext",
    "ChannelError",
    "ChannelOptions",
    "CheckResult",
    "Limits",
    "Media",
    "PermanentError",
    "Post",
    "RateBudget",
    "RateLimitedError",
    "Receipt",
    "TextRule",
    "TransientError",
]


# --- errors: the only three things an adapter may say about a failure ------------------------


class ChannelError(Exception):
    """Base of the errors an adapter raises; ``reason`` is safe to show (no secrets)."""

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        progress: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        # What this attempt achieved before failing (e.g. recipients already accepted), handed
        # back to the next attempt as ``Post.progress`` so work that succeeded is not redone.
        self.progress: Mapping[str, Any] = progress or {}


class TransientError(ChannelError):
    """The send may succeed later: 5xx, timeouts, refused or dropped connections.

    ``maybe_delivered`` is True when the request may have reached the platform before it
    failed (an ambiguous write); the next attempt is then marked ``Post.uncertain`` so the
    adapter can reconcile instead of posting twice.
    """

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        maybe_delivered: bool = False,
        progress: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(reason, status=status, progress=progress)
        self.maybe_delivered = maybe_delivered


class RateLimitedError(TransientError):
    """The platform said "not now": retry no earlier than ``retry_after`` seconds from now."""

    def __init__(
        self,
        reason: str,
        *,
        retry_after: float,
        status: int | None = 429,
        progress: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(reason, status=status, progress=progress)
        self.retry_after = max(0.0, float(retry_after))


class PermanentError(ChannelError):
    """Retrying cannot help: bad credentials, content refused, unknown target.

    ``credentials`` is True when authentication or authorisation is what failed, so the
    health engine can report the channel as needing an operator rather than as flaky.
    """

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        credentials: bool = False,
        progress: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(reason, status=status, progress=progress)
        self.credentials = credentials


# --- what the core hands an adapter ------------------------------------------------------------


@dataclass(frozen=True)
class Media:
    """One image to attach, already read from the media store."""

    data: bytes
    content_type: str
    alt: str = ""
    filename: str = "image"


# The image types failover accepts and the adapters that take images send (the web's common
# four), each with the file extension it is saved under.
IMAGE_EXTENSIONS: Mapping[str, str] = MappingProxyType(
    {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
)
IMAGE_TYPES: frozenset[str] = frozenset(IMAGE_EXTENSIONS)


@dataclass(frozen=True)
class RateBudget:
    """What the platform's rate-limit headers said after a request: ``remaining`` requests
    until the window resets in ``reset_after`` seconds. The core paces the channel by it."""

    remaining: int
    reset_after: float


@dataclass(frozen=True)
class Receipt:
    """Proof of a post on the platform: its id and public URL where the platform has them.

    ``extra`` keeps what a later reply needs (Bluesky's ``uri``/``cid``, Slack's channel id,
    email's Message-ID), as JSON-serialisable values; it is stored with the delivery.
    """

    remote_id: str | None = None
    url: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    note: str | None = None
    budget: RateBudget | None = None  # the platform's rate-limit budget, if it reports one


@dataclass(frozen=True)
class Post:
    """One post to make on one channel: the core has already fitted the text to the limits.

    A message too long for a platform becomes several ``Post``s (``part`` of ``parts``), each
    replying to the previous one; the adapter only ever sees one at a time.
    """

    message_id: int
    key: str  # stable per (message, channel, part): use it as the platform's idempotency key
    text: str
    created_at: datetime
    title: str | None = None
    link: str | None = None
    media: tuple[Media, ...] = ()
    content_warning: str | None = None
    language: str | None = None
    reply_to: Receipt | None = None  # the post this one answers (previous part or thread post)
    thread_root: Receipt | None = None  # the first post of the thread on this channel
    part: int = 1
    parts: int = 1
    uncertain: bool = False  # an earlier attempt may have reached the platform: reconcile
    progress: Mapping[str, Any] = field(default_factory=dict)
    full_text_url: str | None = None  # the whole message on the owned feed page
    # Who sends this copy, under which claim ("<daemon> <delivery>/<claim epoch>"): HTTP
    # adapters pass it on as ``Failover-Claim`` so a receiver's log tells copies apart.
    claim: str | None = None
    # Long sends (an email to 10,000 recipients) report what they have done so far, e.g.
    # ``{"done": 4000, "total": 10000}``; the core stores it on the delivery for the CLI/UI.
    on_progress: Callable[[Mapping[str, Any]], Awaitable[None]] | None = field(
        default=None, compare=False, repr=False
    )


@dataclass(frozen=True)
class CheckResult:
    """Outcome of an adapter's own health check (credentials and API reachable).

    ``credentials`` is True when the check failed because credentials are missing, invalid or
    revoked: the channel then goes down at once and stays down until an operator acts.
    """

    ok: bool
    detail: str = ""
    credentials: bool = False
    degraded: bool = False  # works, but not fully (e.g. a share of a fan-out is failing)


# --- what an adapter declares ------------------------------------------------------------------


@dataclass(frozen=True)
class TextRule:
    """How a platform measures text, and how much it takes per post."""

    name: str  # e.g. "weighted", "graphemes", "characters"
    max: int
    measure: Callable[[str], int] = len


@dataclass(frozen=True)
class Limits:
    """What the platform accepts, declared by the adapter and enforced by the core."""

    text: TextRule | None = None  # None: no practical limit
    max_media: int = 0
    max_media_bytes: int = 0
    media_types: frozenset[str] = frozenset()
    threads: bool = False  # replies to an earlier post are possible
    title: bool = False  # the platform shows a separate title/subject


@dataclass(frozen=True)
class ChannelContext:
    """What the daemon tells every adapter about where it runs."""

    name: str  # the channel's name in the config, e.g. "x" or "support-mail"
    state_dir: Path  # a directory the adapter may own (created by the core)
    public_url: str | None = None  # the daemon's public base URL, if configured
    user_agent: str = "failover"


class ChannelOptions(BaseModel):
    """Base for an adapter's options: ``[channels.NAME]`` keys other than the core's own.

    Secret values are typed ``pydantic.SecretStr``; the config loader insists they are given
    as references (``${ENV}``, ``file:``, ``credential:``) and resolves them before validation.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


@runtime_checkable
class Channel(Protocol):
    """A channel adapter. One instance per configured channel, used concurrently.

    ``send`` must be safe to call concurrently up to the channel's configured concurrency.
    Everything an adapter raises from ``send``/``check`` is a ``ChannelError``; anything else
    is a bug and is treated as transient by the core.
    """

    type_name: ClassVar[str]
    Options: ClassVar[type[ChannelOptions]]

    @property
    def limits(self) -> Limits: ...

    async def open(self) -> None:
        """Create sessions and read server limits; may raise ChannelError."""

    async def send(self, post: Post) -> Receipt:
        """Make one post; return its receipt or raise a ChannelError."""

    async def check(self) -> CheckResult:
        """The cheapest authenticated call that proves the channel can post."""

    async def close(self) -> None:
        """Release sessions and threads; called once, after the last send."""


@runtime_checkable
class Retracts(Protocol):
    """An adapter that can take a post down again (``failover retract``). Email, webhooks and
    notification services cannot: what they delivered stays delivered."""

    async def retract(self, part: Receipt) -> None:
        """Delete one posted part; a part that is already gone counts as done. Raises the
        same three ChannelErrors as ``send``."""
