"""What the actor channel needs from the daemon that hosts it, as a small protocol.

The adapter builds documents; the daemon keeps them (outbox, followers, per-inbox delivery
queue) and serves them. Adapters never touch the store, so the daemon hands the adapter an
``ActorHost`` after opening it (``ActivityPubChannel.attach``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from channels.base import Media


@dataclass(frozen=True)
class Outgoing:
    """An activity about one of our Notes, to keep and to send to every follower."""

    kind: str  # Create | Update | Delete
    activity: dict[str, Any]
    note: dict[str, Any]  # the Note (a Tombstone for Delete)
    message_id: int | None


@dataclass(frozen=True)
class Ledger:
    """The channel's own view of its followers and inbox deliveries, for its health."""

    followers: int
    inboxes: int  # distinct inboxes the followers are reached at
    failing: int  # inboxes whose recent deliveries fail


class ActorHost(Protocol):
    async def publish(self, outgoing: Outgoing) -> None:
        """Keep the activity (the post is then published) and queue it to every inbox.

        Raises a ChannelError when it cannot be kept."""

    async def published(self, note_id: str) -> dict[str, Any] | None:
        """The Note as last published under this id, or None."""

    async def store_media(self, media: Media) -> str:
        """Keep an image and return the public URL it is served at."""

    async def ledger(self) -> Ledger: ...
