"""Compose: what one delivery posts on its channel, before anything is sent.

The message's text fitted to the channel's limits (one post or a thread of parts), its images
read from the media folder, and where it continues an earlier thread on the same channel.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from channels.base import Channel, Media, PermanentError, Receipt
from failover import router
from failover.fitting import compose as compose_text
from failover.fitting import fit
from failover.model import Delivery, Message, Unusable, UnusableKind
from failover.runtime import RuntimeGetter
from failover.store.base import Store


@dataclass(frozen=True)
class Composed:
    """What ``compose`` hands to the send step: the adapter and every part of the post."""

    adapter: Channel
    parts: list[str]
    media: tuple[Media, ...]
    root: Receipt | None  # the thread's first post on this channel, if continuing a thread
    parent: Receipt | None  # the thread's latest post, which the first part replies to
    full_text_url: str | None


class Unavailable(PermanentError):
    """The channel cannot be used at all (disabled, missing secrets, gone from the config)."""

    def __init__(self, unusable: Unusable) -> None:
        super().__init__(f"channel is unavailable: {unusable.reason}")
        self.unusable = unusable


@dataclass
class Composer:
    store: Store
    runtime: RuntimeGetter
    media_dir: Path
    unusable: router.Usability

    async def compose(self, delivery: Delivery, message: Message) -> Composed:
        """The posts this delivery makes: its text fitted to the channel, images, thread.
        Raises ``Unavailable`` when the channel has no working adapter."""
        live = self.runtime().channels.get(delivery.channel)
        if live is None or live.adapter is None:
            why = self.unusable(delivery.channel) or Unusable(
                UnusableKind.NOT_CONFIGURED if live is None else UnusableKind.BROKEN,
                (live.problem or "unavailable")
                if live
                else "channel is not in the config any more",
            )
            raise Unavailable(why)
        adapter = live.adapter
        route = self.runtime().config.routes.get(message.route)
        text = compose_text(message, delivery.channel, adapter.limits)
        url = self._full_text_url(message)
        parts = fit(text, adapter.limits, route.fit if route else "thread", url)
        root, parent = await self._thread(message, delivery.channel)
        return Composed(adapter, parts, self._media(message), root, parent, url)

    async def _thread(
        self, message: Message, channel: str
    ) -> tuple[Receipt | None, Receipt | None]:
        """(first post, latest post) of the message's thread on ``channel``, if any."""
        if message.thread_id is None or message.thread_id == message.id:
            return None, None
        earlier = await self.store.thread_receipts(message.thread_id, channel, exclude=message.id)
        earlier = [d for d in earlier if d.message_id < message.id]
        if not earlier:
            return None, None
        first_parts = earlier[0].receipt.get("parts") or [{}]
        last_parts = earlier[-1].receipt.get("parts") or [{}]
        return as_receipt(first_parts[0]), as_receipt(last_parts[-1])

    def _media(self, message: Message) -> tuple[Media, ...]:
        out = []
        for image in message.images:
            data = (self.media_dir / image.sha256).read_bytes()
            out.append(
                Media(
                    data=data,
                    content_type=image.content_type,
                    alt=image.alt,
                    filename=image.sha256[:16],
                )
            )
        return tuple(out)

    def _full_text_url(self, message: Message) -> str | None:
        base = self.runtime().config.api.public_url
        return f"{base.rstrip('/')}/status/#item-{message.id}" if base else None


def post_key(message: Message, channel: str, index: int, parts: int) -> str:
    """Stable per (message, channel, part), and distinct across databases (created_at): the
    key a platform deduplicates on, the same on every retry."""
    raw = f"{message.id}:{message.created_at.timestamp():.6f}:{channel}:{index}:{parts}"
    return "fo-" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def as_receipt(d: dict[str, Any]) -> Receipt:
    """A posted part's receipt, as kept in a delivery's ``receipt``/``progress``."""
    return Receipt(
        remote_id=d.get("remote_id"),
        url=d.get("url"),
        extra=d.get("extra") or {},
        note=d.get("note"),
    )


def receipt_dict(r: Receipt) -> dict[str, Any]:
    return {"remote_id": r.remote_id, "url": r.url, "extra": dict(r.extra), "note": r.note}
