"""The ActivityPub, WebFinger and NodeInfo documents of the daemon's own actor.

Plain functions from an ``Actor`` (who we are, where we are served) to JSON-ready dicts, so
the daemon's HTTP routes and the channel adapter build exactly the same ids. Only the
ActivityStreams and security contexts plus inline terms are used: a context URL a server
cannot load can make its inbox fail (Fedify answers 500).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from channels.activitypub.content import to_html

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = f"{AS}#Public"
CONTEXT: list[Any] = [
    AS,
    "https://w3id.org/security/v1",
    {
        "sensitive": "as:sensitive",
        "Hashtag": "as:Hashtag",
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "toot": "http://joinmastodon.org/ns#",
        "discoverable": "toot:discoverable",
        "indexable": "toot:indexable",
    },
]
ACTIVITY_JSON = "application/activity+json"
PAGE_SIZE = 20


@dataclass(frozen=True)
class Actor:
    """Who the actor is and where the daemon serves it; every id derives from these."""

    username: str
    domain: str  # the handle's domain: @username@domain
    base_url: str  # where the daemon is served, without a trailing slash
    name: str
    summary: str = ""
    avatar: str | None = None
    header: str | None = None
    profile_url: str | None = None
    manually_approves: bool = False
    discoverable: bool = True
    indexable: bool = True
    language: str | None = None

    @property
    def id(self) -> str:
        return f"{self.base_url}/users/{self.username}"

    @property
    def key_id(self) -> str:
        return f"{self.id}#main-key"

    @property
    def inbox(self) -> str:
        return f"{self.id}/inbox"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base_url}/inbox"

    @property
    def outbox(self) -> str:
        return f"{self.id}/outbox"

    @property
    def followers(self) -> str:
        return f"{self.id}/followers"

    @property
    def handle(self) -> str:
        return f"{self.username}@{self.domain}"

    def note_id(self, message_id: int) -> str:
        return f"{self.id}/posts/{message_id}"


def actor_document(actor: Actor, public_key_pem: str, published: datetime) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "id": actor.id,
        "type": "Service",
        "preferredUsername": actor.username,
        "name": actor.name,
        "summary": to_html(actor.summary, f"{actor.base_url}/tags/").html if actor.summary else "",
        "url": actor.profile_url or f"{actor.base_url}/status/",
        "inbox": actor.inbox,
        "outbox": actor.outbox,
        "followers": actor.followers,
        "endpoints": {"sharedInbox": actor.shared_inbox},
        "manuallyApprovesFollowers": actor.manually_approves,
        "discoverable": actor.discoverable,
        "indexable": actor.indexable,
        "published": _iso(published),
        "publicKey": {"id": actor.key_id, "owner": actor.id, "publicKeyPem": public_key_pem},
    }
    for field, url in (("icon", actor.avatar), ("image", actor.header)):
        if url:
            doc[field] = {"type": "Image", "url": url}
    return doc


def webfinger(actor: Actor) -> dict[str, Any]:
    return {
        "subject": f"acct:{actor.handle}",
        "aliases": [actor.id],
        "links": [
            {"rel": "self", "type": ACTIVITY_JSON, "href": actor.id},
            {
                "rel": "http://webfinger.net/rel/profile-page",
                "type": "text/html",
                "href": actor.profile_url or f"{actor.base_url}/status/",
            },
        ],
    }


def nodeinfo_links(actor: Actor) -> dict[str, Any]:
    return {
        "links": [
            {
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
                "href": f"{actor.base_url}/nodeinfo/2.1",
            }
        ]
    }


def nodeinfo(version: str, posts: int) -> dict[str, Any]:
    return {
        "version": "2.1",
        "software": {"name": "failover", "version": version},
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": False,
        "usage": {
            "users": {"total": 1, "activeMonth": 1, "activeHalfyear": 1},
            "localPosts": posts,
        },
        "metadata": {},
    }


@dataclass(frozen=True)
class Attachment:
    url: str
    media_type: str
    alt: str


def note(
    actor: Actor,
    message_id: int,
    text: str,
    published: datetime,
    *,
    content_warning: str | None = None,
    attachments: Sequence[Attachment] = (),
    in_reply_to: str | None = None,
    language: str | None = None,
    updated: datetime | None = None,
) -> dict[str, Any]:
    """A public Note: ``to`` Public, ``cc`` the followers, hashtags as ``Hashtag`` tags."""
    rendered = to_html(text, f"{actor.base_url}/tags/")
    note_id = actor.note_id(message_id)
    doc: dict[str, Any] = {
        "id": note_id,
        "type": "Note",
        "attributedTo": actor.id,
        "url": note_id,
        "published": _iso(published),
        "to": [PUBLIC],
        "cc": [actor.followers],
        "content": rendered.html,
        "inReplyTo": in_reply_to,
        "sensitive": bool(content_warning),
        "summary": content_warning or None,
        "attachment": [
            {"type": "Document", "mediaType": a.media_type, "url": a.url, "name": a.alt or None}
            for a in attachments
        ],
        "tag": [
            {
                "type": "Hashtag",
                "href": f"{actor.base_url}/tags/{quote(t.lower())}",
                "name": f"#{t}",
            }
            for t in rendered.hashtags
        ],
    }
    lang = language or actor.language
    if lang:
        doc["contentMap"] = {lang: rendered.html}
    if updated is not None:
        doc["updated"] = _iso(updated)
    return doc


def wrap(kind: str, actor: Actor, obj: dict[str, Any], activity_id: str) -> dict[str, Any]:
    """``Create``/``Update``/``Delete`` of a Note, addressed as the Note is."""
    return {
        "@context": CONTEXT,
        "id": activity_id,
        "type": kind,
        "actor": actor.id,
        "published": obj.get("updated") or obj.get("published"),
        "to": obj.get("to", [PUBLIC]),
        "cc": obj.get("cc", [actor.followers]),
        "object": obj,
    }


def tombstone(note_id: str, deleted: datetime) -> dict[str, Any]:
    return {"id": note_id, "type": "Tombstone", "deleted": _iso(deleted)}


def accept(actor: Actor, follow: dict[str, Any], kind: str = "Accept") -> dict[str, Any]:
    """``Accept`` (or ``Reject``) of a Follow, embedding it (Mastodon and Fedify take the id
    or the object)."""
    follow_id = str(follow.get("id", ""))
    suffix = hashlib.sha256(follow_id.encode()).digest()[:12]
    return {
        "@context": CONTEXT,
        "id": f"{actor.id}#{kind.lower()}s/{base64.urlsafe_b64encode(suffix).decode().rstrip('=')}",
        "type": kind,
        "actor": actor.id,
        "object": {
            "id": follow_id,
            "type": "Follow",
            "actor": follow.get("actor"),
            "object": actor.id,
        },
    }


def collection(
    url: str, total: int, page: int | None, items: list[Any], *, ordered: bool = True
) -> dict[str, Any]:
    """The collection itself (``page`` None) or one page of it (``?page=N``, 1-based)."""
    kind = "OrderedCollection" if ordered else "Collection"
    if page is None:
        doc: dict[str, Any] = {"@context": CONTEXT, "id": url, "type": kind, "totalItems": total}
        if total:
            doc["first"] = f"{url}?page=1"
            doc["last"] = f"{url}?page={max(1, -(-total // PAGE_SIZE))}"
        return doc
    doc = {
        "@context": CONTEXT,
        "id": f"{url}?page={page}",
        "type": f"{kind}Page",
        "partOf": url,
        "totalItems": total,
        "orderedItems" if ordered else "items": items,
    }
    if page * PAGE_SIZE < total:
        doc["next"] = f"{url}?page={page + 1}"
    if page > 1:
        doc["prev"] = f"{url}?page={page - 1}"
    return doc


def host_of(url: str) -> str:
    return urlsplit(url).netloc.lower()


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")
