"""The daemon's side of ``channels.activitypub.port.ActorHost``: keep activities in the
store, queue them to every follower's inbox, keep images, and report the ledger."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from channels.activitypub.documents import Actor
from channels.activitypub.port import Ledger, Outgoing
from channels.base import IMAGE_EXTENSIONS, Media, TransientError
from failover.clock import Clock
from failover.errors import StoreError
from failover.store.base import Store
from failover.store.fediverse import Publication

UNAVAILABLE = "host marked unavailable (failures on 7 distinct days)"
FAILING_WINDOW = timedelta(days=1)


class StoreActorHost:
    def __init__(self, store: Store, clock: Clock, actor: Actor, wake: Callable[[], None]) -> None:
        self.store = store
        self.clock = clock
        self.actor = actor
        self.wake = wake

    async def publish(self, outgoing: Outgoing) -> None:
        pub = Publication(
            activity_id=str(outgoing.activity["id"]),
            body=json.dumps(outgoing.activity, ensure_ascii=False),
            message_id=outgoing.message_id,
            note_id=str(outgoing.note["id"]),
            note=json.dumps(outgoing.note, ensure_ascii=False),
            create=json.dumps(outgoing.activity, ensure_ascii=False)
            if outgoing.kind == "Create"
            else None,
            deleted=outgoing.kind == "Delete",
        )
        await self.send(pub, None)

    async def send(self, pub: Publication, inboxes: Sequence[str] | None) -> int:
        """Keep ``pub`` and queue it to ``inboxes`` (None: all followers); wake the sender."""
        try:
            queued = await self.store.ap_publish(pub, inboxes, UNAVAILABLE, self.clock.now())
        except StoreError as exc:
            raise TransientError(f"cannot keep the activity: {exc}") from exc
        if queued:
            self.wake()
        return queued

    async def published(self, note_id: str) -> dict[str, Any] | None:
        try:
            found = await self.store.ap_object(note_id)
        except StoreError as exc:
            raise TransientError(f"cannot read the outbox: {exc}") from exc
        return None if found is None or found[2] else found[0]

    async def store_media(self, media: Media) -> str:
        ext = IMAGE_EXTENSIONS.get(media.content_type, "bin")
        name = f"{hashlib.sha256(media.data).hexdigest()[:32]}.{ext}"
        try:
            await self.store.ap_put_media(name, media.content_type, media.data, self.clock.now())
        except StoreError as exc:
            raise TransientError(f"cannot keep the image: {exc}") from exc
        return f"{self.actor.base_url}/ap/media/{name}"

    async def ledger(self) -> Ledger:
        counts = await self.store.ap_follower_counts()
        inboxes = await self.store.ap_inbox_count()
        failing = await self.store.ap_failing_inboxes(self.clock.now() - FAILING_WINDOW)
        return Ledger(counts.get("accepted", 0), inboxes, failing)
