"""The daemon's fediverse actor, wired: its key, its inbox, its delivery queue.

Started by the daemon when an ``activitypub`` channel is configured. The key is created at
the first start and kept in the store, so every daemon of a cluster signs with the same one.
The actor's id and handle must not change once people follow it: a start with another
domain, username or public URL than the stored ones is refused unless ``migrate_domain``.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from channels.activitypub.channel import ActivityPubChannel
from channels.activitypub.delivery import SigningKey
from channels.activitypub.documents import Actor
from channels.activitypub.signatures import new_private_key, public_pem
from failover import __version__
from failover.activitypub.host import StoreActorHost
from failover.activitypub.inbox import Inbox
from failover.activitypub.sender import InboxSender
from failover.clock import Clock
from failover.errors import ConfigError
from failover.live_channels import ChannelSet
from failover.store.base import NewEvent, Store
from failover.store.fediverse import ActorRecord

log = logging.getLogger("failover.activitypub")


def actor_channel(channels: ChannelSet) -> tuple[str, ActivityPubChannel] | None:
    """The configured actor channel (one per daemon), or None."""
    found = [
        (live.name, live.adapter)
        for live in channels.all()
        if isinstance(live.adapter, ActivityPubChannel)
    ]
    if len(found) > 1:
        names = ", ".join(name for name, _ in found)
        raise ConfigError([f"channels: only one activitypub channel per daemon ({names})"])
    return found[0] if found else None


async def stored_actor(store: Store, actor: Actor, migrate: bool, clock: Clock) -> ActorRecord:
    """The actor's record, created with a new key at the first start; refuses a change of
    id or handle unless told to migrate."""
    now = clock.now()
    record = await store.ap_actor()
    if record is None:
        fresh = ActorRecord(actor.username, actor.domain, actor.base_url, new_private_key(), now)
        return await store.ap_create_actor(fresh)  # another daemon may have won: its key
    stored = (record.username, record.domain, record.base_url)
    wanted = (actor.username, actor.domain, actor.base_url)
    if stored == wanted:
        return record
    if not migrate:
        raise ConfigError([
            f"channels: the fediverse actor is @{record.username}@{record.domain} at "
            f"{record.base_url}; the config says @{actor.handle} at {actor.base_url}. Moving "
            "an account loses its followers: set migrate_domain = true for one start to move it",
        ])  # fmt: skip
    await store.ap_move_actor(actor.username, actor.domain, actor.base_url, now)
    await store.add_events(
        [NewEvent("activitypub.moved", detail={"from": f"{record.username}@{record.domain}",
                                              "to": actor.handle})],
        now,
    )  # fmt: skip
    log.warning(
        "fediverse actor moved: @%s@%s is now @%s", record.username, record.domain, actor.handle
    )
    return (await store.ap_actor()) or record


class FediverseService:
    def __init__(self, store: Store, clock: Clock, owner: str) -> None:
        self.store = store
        self.clock = clock
        self.owner = owner
        self.adapter: ActivityPubChannel | None = None
        self.record: ActorRecord | None = None
        self.public_key = ""
        self.session: aiohttp.ClientSession | None = None
        self.sender: InboxSender | None = None
        self.inbox: Inbox | None = None
        self.host: StoreActorHost | None = None
        self._task: asyncio.Task[None] | None = None
        self.version = __version__

    @property
    def actor(self) -> Actor | None:
        return self.adapter.actor if self.adapter is not None else None

    async def attach(self, channels: ChannelSet) -> None:
        """(Re)attach to the configured actor channel: at start and after every reload."""
        found = actor_channel(channels)
        if found is None:
            await self.stop()
            return
        _, adapter = found
        actor = adapter.actor
        if self.record is None or self.actor != actor:
            self.record = await stored_actor(
                self.store, actor, adapter.options.migrate_domain, self.clock
            )
            self.public_key = public_pem(self.record.private_key)
        key = SigningKey(actor.key_id, self.record.private_key)
        if self.session is None:
            timeout = aiohttp.ClientTimeout(total=adapter.options.timeout)
            headers = {"User-Agent": f"failover/{__version__} (+{actor.base_url})"}
            self.session = aiohttp.ClientSession(timeout=timeout, headers=headers)
        if self.sender is None:
            self.sender = InboxSender(
                self.store, self.clock, self.owner, key, self.session,
                spacing=adapter.options.retry_spacing,
            )  # fmt: skip
            self._task = asyncio.create_task(self.sender.run(), name="activitypub-sender")
            self._task.add_done_callback(_report_death)
        self.sender.key = key
        self.sender.spacing = adapter.options.retry_spacing
        self.host = StoreActorHost(self.store, self.clock, actor, self.sender.wake)
        self.inbox = Inbox(self.store, self.clock, actor, key, self.session, self.host)
        adapter.attach(self.host)
        self.adapter = adapter

    async def stop(self) -> None:
        if self._task is not None and self.sender is not None:
            await self.sender.stop(self._task)
            self._task = None
        self.sender = None
        if self.session is not None:
            await self.session.close()
            self.session = None
        self.adapter = self.inbox = self.host = None


def _report_death(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the fediverse delivery queue stopped", exc_info=task.exception())
