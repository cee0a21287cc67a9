"""The actor's inbox: verify who sent an activity, then act on Follow, Undo and Delete.

Every POST must carry a draft-cavage HTTP Signature whose key belongs to the activity's
``actor``, a ``Digest`` matching the body and a ``Date`` within an hour. Keys are fetched
(with a signed GET) and cached; a signature that fails with a cached key is checked once
more with a freshly fetched key (the sender may have rotated it). Nothing is recorded for
a request that fails these checks. Activity ids are remembered, so a redelivery is a no-op.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp

from channels.activitypub.delivery import FetchError, SigningKey, fetch_document
from channels.activitypub.documents import Actor, accept
from channels.activitypub.signatures import SignatureError, SignatureParams, parse, verify
from failover.activitypub.host import StoreActorHost
from failover.clock import Clock
from failover.store.base import Store
from failover.store.fediverse import Follower, Publication, host_of

log = logging.getLogger("failover.activitypub")

SEEN_FOR = timedelta(days=7)
KEY_CACHE = 1000


class InboxRefused(Exception):
    """The request is refused with ``status``; the text says why (safe to show)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class RemoteKey:
    owner: str
    pem: str


class Inbox:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        actor: Actor,
        key: SigningKey,
        session: aiohttp.ClientSession,
        host: StoreActorHost,
    ) -> None:
        self.store = store
        self.clock = clock
        self.actor = actor
        self.key = key
        self.session = session
        self.host = host
        self._keys: dict[str, RemoteKey] = {}

    async def receive(self, target: str, headers: dict[str, str], body: bytes) -> str:
        """Handle one POST (``headers`` with lower-case names); what was done, for the log."""
        try:
            params = parse(headers)
        except SignatureError as exc:
            raise InboxRefused(401, str(exc)) from None
        activity = _activity(body)
        actor_id = _id(activity.get("actor"))
        try:
            remote = await self._verified_key(target, headers, body, params)
        except FetchError as exc:
            if exc.status == 410 and _is_self_delete(activity, actor_id):
                await self.store.ap_remove_follower(actor_id)  # the account is gone for good
                return f"{actor_id} is gone: follower removed"
            raise InboxRefused(401, f"cannot fetch the signing key: {exc}") from None
        if remote.owner != actor_id:
            raise InboxRefused(401, "the signing key does not belong to the activity's actor")
        digest = hashlib.sha256(body).hexdigest()
        activity_id = _id(activity.get("id")) or f"{actor_id}#sha256={digest}"
        if await self.store.ap_seen(activity_id):
            return f"duplicate {activity_id}"
        if await self.store.ap_host(host_of(actor_id)) is not None:
            await self.store.ap_clear_host(host_of(actor_id))  # it reaches us: available again
        done = await self._dispatch(activity, actor_id)
        # Remembered once handled, so a sender's retry after a failure here is not dropped
        # (handling is idempotent, should two copies race).
        now = self.clock.now()
        await self.store.ap_first_sight(activity_id, now, now - SEEN_FOR)
        return done

    async def _verified_key(
        self, target: str, headers: dict[str, str], body: bytes, params: SignatureParams
    ) -> RemoteKey:
        cached = self._keys.get(params.key_id)
        remote = cached or await self._fetch_key(params.key_id)
        now = self.clock.now()
        try:
            verify("POST", target, headers, body, params, remote.pem, now)
        except SignatureError as exc:
            if cached is None or "Date" in str(exc) or "Digest" in str(exc):
                raise InboxRefused(401, str(exc)) from None
            remote = await self._fetch_key(params.key_id)  # rotated? one fresh look
            try:
                verify("POST", target, headers, body, params, remote.pem, now)
            except SignatureError as again:
                raise InboxRefused(401, str(again)) from None
        return remote

    async def _fetch_key(self, key_id: str) -> RemoteKey:
        doc = await fetch_document(
            self.session, key_id.split("#", maxsplit=1)[0], self.key, self.clock.now()
        )
        key: Any = doc.get("publicKey", doc)
        if isinstance(key, list):
            key = next((k for k in key if isinstance(k, dict) and k.get("id") == key_id), None)
        if not isinstance(key, dict) or not isinstance(key.get("publicKeyPem"), str):
            raise FetchError(f"{key_id}: no publicKeyPem")
        owner = _id(key.get("owner")) or _id(doc.get("id"))
        remote = RemoteKey(owner, key["publicKeyPem"])
        if len(self._keys) >= KEY_CACHE:
            self._keys.pop(next(iter(self._keys)))
        self._keys[key_id] = remote
        return remote

    async def _dispatch(self, activity: dict[str, Any], actor_id: str) -> str:
        kind = activity.get("type")
        obj = activity.get("object")
        if kind == "Follow" and _id(obj) == self.actor.id:
            return await self._follow(activity, actor_id)
        if kind == "Undo" and isinstance(obj, dict | str):
            inner = obj if isinstance(obj, dict) else {"id": obj}
            follower = await self.store.ap_follower(actor_id)
            if follower and (
                inner.get("type") == "Follow" or inner.get("id") == follower.follow_id
            ):
                await self.store.ap_remove_follower(actor_id)
                return f"{actor_id} unfollowed"
        if _is_self_delete(activity, actor_id) and await self.store.ap_remove_follower(actor_id):
            return f"{actor_id} deleted: follower removed"
        return f"{kind} ignored"

    async def _follow(self, follow: dict[str, Any], actor_id: str) -> str:
        try:
            doc = await fetch_document(self.session, actor_id, self.key, self.clock.now())
        except FetchError as exc:  # 502: the sender retries, as it does on any 5xx
            raise InboxRefused(502, f"cannot fetch the follower's actor: {exc}") from None
        inbox = doc.get("inbox")
        if not isinstance(inbox, str) or doc.get("id") != actor_id:
            raise InboxRefused(400, "the follower's actor has no inbox")
        endpoints = doc.get("endpoints")
        shared = endpoints.get("sharedInbox") if isinstance(endpoints, dict) else None
        name = doc.get("preferredUsername")
        follower = Follower(
            actor=actor_id,
            inbox=inbox,
            shared_inbox=shared if isinstance(shared, str) else None,
            follow_id=_id(follow.get("id")),
            state="pending" if self.actor.manually_approves else "accepted",
            handle=f"{name}@{host_of(actor_id)}" if isinstance(name, str) else None,
            created_at=self.clock.now(),
        )
        stored = await self.store.ap_add_follower(follower, self.clock.now())
        if stored.state == "accepted":
            await self.send_accept(stored)
            return f"{actor_id} follows: accepted"
        return f"{actor_id} asks to follow: held for approval"

    async def send_accept(self, follower: Follower) -> None:
        doc = accept(self.actor, {"id": follower.follow_id, "actor": follower.actor})
        pub = Publication(activity_id=doc["id"], body=json.dumps(doc))
        await self.host.send(pub, [follower.inbox])


def _activity(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InboxRefused(400, "the body is not JSON") from None
    if not isinstance(doc, dict) or not _id(doc.get("actor")) or not doc.get("type"):
        raise InboxRefused(400, "the body is not an activity with an actor and a type")
    return doc


def _id(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _is_self_delete(activity: dict[str, Any], actor_id: str) -> bool:
    return activity.get("type") == "Delete" and _id(activity.get("object")) == actor_id
