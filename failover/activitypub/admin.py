"""What people do with the actor from the web UI: see its followers and delivery ledger,
approve or reject follow requests, and correct (Update) or delete a published post."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.activitypub.channel import ActivityPubChannel
from channels.activitypub.documents import accept, note, tombstone, wrap
from failover.activitypub.host import StoreActorHost
from failover.clock import Clock
from failover.errors import Conflict, InvalidInput, NotFound
from failover.live_channels import ChannelSet
from failover.store.base import NewEvent, Store
from failover.store.fediverse import Follower, InboxDelivery, Publication

SHOWN = 200  # followers listed on the page


@dataclass(frozen=True)
class Summary:
    channel: str
    handle: str
    actor: str
    followers: int
    pending: int
    deliveries: dict[str, int]  # all inbox deliveries by state
    requests: list[Follower] = field(default_factory=list)
    accepted: list[Follower] = field(default_factory=list)


def actor_adapter(channels: ChannelSet) -> tuple[str, ActivityPubChannel] | None:
    for live in channels.all():
        if isinstance(live.adapter, ActivityPubChannel):
            return live.name, live.adapter
    return None


async def summary(store: Store, channels: ChannelSet, *, lists: bool = False) -> Summary | None:
    """Follower counts and delivery progress; None when no actor is configured."""
    found = actor_adapter(channels)
    if found is None:
        return None
    name, adapter = found
    counts = await store.ap_follower_counts()
    return Summary(
        channel=name,
        handle=f"@{adapter.actor.handle}",
        actor=adapter.actor.id,
        followers=counts.get("accepted", 0),
        pending=counts.get("pending", 0),
        deliveries=await store.ap_delivery_counts(None),
        requests=await store.ap_followers("pending", SHOWN, 0) if lists else [],
        accepted=await store.ap_followers("accepted", SHOWN, 0) if lists else [],
    )


async def ledger(store: Store, channels: ChannelSet, message_id: int) -> list[InboxDelivery]:
    """Per-inbox outcomes of one message: the channel's own ledger."""
    if actor_adapter(channels) is None:
        return []
    return await store.ap_deliveries(message_id)


async def answer_follow(
    store: Store, clock: Clock, channels: ChannelSet, actor: str, approve: bool, by: str
) -> None:
    """Approve (Accept) or reject (Reject, and forget) a held follow request."""
    host, adapter = _host(channels)
    follower = await store.ap_follower(actor)
    if follower is None or follower.state != "pending":
        raise NotFound(f"no follow request from {actor}")
    if approve:
        await store.ap_approve_follower(actor, clock.now())
    else:
        await store.ap_remove_follower(actor)
    doc = accept(adapter.actor, {"id": follower.follow_id, "actor": actor},
                 "Accept" if approve else "Reject")  # fmt: skip
    await host.send(Publication(activity_id=doc["id"], body=json.dumps(doc)), [follower.inbox])
    kind = "activitypub.follow_approved" if approve else "activitypub.follow_rejected"
    await store.add_events([NewEvent(kind, actor=by, detail={"follower": actor})], clock.now())


async def retract(
    store: Store, clock: Clock, channels: ChannelSet, message_id: int, by: str
) -> int:
    """Delete a published post: its page answers 410 and every follower gets a Delete.
    Returns how many inboxes it was queued to."""
    host, adapter = _host(channels)
    note_id = adapter.actor.note_id(message_id)
    found = await store.ap_object(note_id)
    if found is None:
        raise NotFound(f"message {message_id} was not published on the fediverse")
    if found[2]:
        raise Conflict(f"message {message_id} is already deleted from the fediverse")
    now = clock.now()
    gone: dict[str, Any] = tombstone(note_id, now)
    activity = wrap("Delete", adapter.actor, {**gone, "to": found[0]["to"], "cc": found[0]["cc"]},
                    f"{note_id}#delete")  # fmt: skip
    activity["object"], activity["published"] = gone, gone["deleted"]
    pub = Publication(activity["id"], json.dumps(activity), message_id, note_id,
                      json.dumps(gone), deleted=True)  # fmt: skip
    queued = await host.send(pub, None)
    await store.add_events(
        [
            NewEvent(
                "activitypub.deleted", actor=by, message_id=message_id, detail={"inboxes": queued}
            )
        ],
        now,
    )
    return queued


async def correct(
    store: Store,
    clock: Clock,
    channels: ChannelSet,
    message_id: int,
    text: str,
    content_warning: str | None,
    by: str,
) -> int:
    """Correct a published post: the same Note with new text (and content warning) goes to
    every follower as an ``Update``. Returns how many inboxes it was queued to."""
    host, adapter = _host(channels)
    note_id = adapter.actor.note_id(message_id)
    found = await store.ap_object(note_id)
    if found is None or found[2]:
        raise NotFound(f"message {message_id} is not published on the fediverse")
    if not text.strip():
        raise InvalidInput("text", "must not be empty")
    before = found[0]
    fresh = note(adapter.actor, message_id, text, datetime.fromisoformat(before["published"]),
                 content_warning=content_warning, in_reply_to=before.get("inReplyTo"),
                 updated=clock.now())  # fmt: skip
    fresh["attachment"] = before.get("attachment", [])  # the images stay
    stamp = hashlib.sha256(json.dumps(fresh, sort_keys=True).encode()).hexdigest()[:16]
    activity = wrap("Update", adapter.actor, fresh, f"{note_id}#updates/{stamp}")
    queued = await host.send(Publication(activity["id"], json.dumps(activity), message_id,
                                         note_id, json.dumps(fresh)), None)  # fmt: skip
    await store.add_events(
        [
            NewEvent(
                "activitypub.updated", actor=by, message_id=message_id, detail={"inboxes": queued}
            )
        ],
        clock.now(),
    )
    return queued


def _host(channels: ChannelSet) -> tuple[StoreActorHost, ActivityPubChannel]:
    found = actor_adapter(channels)
    if found is None:
        raise NotFound("no activitypub channel is configured")
    host = found[1].host
    if not isinstance(host, StoreActorHost):
        raise Conflict("the fediverse actor is not running yet")
    return host, found[1]
