"""The daemon's own fediverse account (``@status@status.acme.com``) as a channel.

Sending publishes: the Note goes into the outbox and gets its page, and the post counts as
delivered there. Getting it to every follower's server is the daemon's per-inbox queue with
its own retries (the channel's ledger), so one failing inbox never holds back the rest.
A replayed post whose text changed becomes an ``Update`` of the same Note.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
from pydantic import Field

from channels.activitypub.documents import (
    ACTIVITY_JSON,
    Actor,
    Attachment,
    note,
    wrap,
)
from channels.activitypub.port import ActorHost, Outgoing
from channels.base import (
    IMAGE_TYPES,
    ChannelContext,
    ChannelOptions,
    CheckResult,
    Limits,
    PermanentError,
    Post,
    Receipt,
    TransientError,
)

_CONTENT_KEYS = ("content", "summary", "sensitive", "attachment", "inReplyTo")


class ActivityPubOptions(ChannelOptions):
    username: str = Field("status", pattern=r"^[A-Za-z0-9_]{1,30}$")
    domain: str | None = None  # the handle's domain; default: the host of api.public_url
    name: str = "Status updates"  # the account's display name
    summary: str = ""
    avatar: str | None = None  # image URLs
    header: str | None = None
    profile_url: str | None = None  # default: the status page
    manually_approves_followers: bool = False
    discoverable: bool = True
    indexable: bool = True
    language: str | None = None
    # Allow one start with a domain other than the stored one (moving loses followers).
    migrate_domain: bool = False
    # Share of inboxes failing above which the channel reports itself degraded.
    degraded_share: float = Field(0.5, gt=0, le=1)
    timeout: float = Field(10.0, gt=0)  # per request to another server
    # Multiplies Mastodon's retry spacing (count^4 + 15 s); below 1 only for tests.
    retry_spacing: float = Field(1.0, gt=0)


class ActivityPubChannel:
    type_name: ClassVar[str] = "activitypub"
    Options: ClassVar[type[ChannelOptions]] = ActivityPubOptions

    def __init__(self, context: ChannelContext, options: ActivityPubOptions) -> None:
        self.options = options
        self.context = context
        base = (context.public_url or "http://localhost").rstrip("/")
        self.actor = Actor(
            username=options.username,
            domain=options.domain or urlsplit(base).netloc,
            base_url=base,
            name=options.name,
            summary=options.summary,
            avatar=options.avatar,
            header=options.header,
            profile_url=options.profile_url,
            manually_approves=options.manually_approves_followers,
            discoverable=options.discoverable,
            indexable=options.indexable,
            language=options.language,
        )
        self._host: ActorHost | None = None
        self._session: aiohttp.ClientSession | None = None

    def attach(self, host: ActorHost) -> None:
        """The daemon hands over what keeps and delivers the actor's activities."""
        self._host = host

    @property
    def host(self) -> ActorHost | None:
        return self._host

    @property
    def limits(self) -> Limits:
        return Limits(
            text=None,
            max_media=4,
            max_media_bytes=8 * 1024 * 1024,
            media_types=IMAGE_TYPES,
            threads=True,
        )

    async def open(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.options.timeout)
        self._session = aiohttp.ClientSession(
            timeout=timeout, headers={"User-Agent": self.context.user_agent}
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, post: Post) -> Receipt:
        host = self._require_host()
        note_id = self.actor.note_id(post.message_id)
        attachments = [
            Attachment(await host.store_media(m), m.content_type, m.alt) for m in post.media
        ]
        before = await host.published(note_id)
        published = _parse_time(before["published"]) if before else post.created_at
        doc = note(
            self.actor,
            post.message_id,
            post.text,
            published,
            content_warning=post.content_warning,
            attachments=attachments,
            in_reply_to=_reply_target(post),
            language=post.language,
        )
        receipt = Receipt(remote_id=note_id, url=doc["url"], extra={"note_id": note_id})
        if before is not None and all(before.get(k) == doc.get(k) for k in _CONTENT_KEYS):
            return receipt  # a replay of what is published: nothing new to tell followers
        if before is None:
            outgoing = Outgoing("Create", wrap("Create", self.actor, doc, f"{note_id}/activity"), doc, post.message_id)  # fmt: skip
        else:
            now = datetime.now(UTC)
            doc["updated"] = now.isoformat(timespec="seconds").replace("+00:00", "Z")
            stamp = hashlib.sha256(repr(sorted(doc.items())).encode()).hexdigest()[:16]
            activity = wrap("Update", self.actor, doc, f"{note_id}#updates/{stamp}")
            outgoing = Outgoing("Update", activity, doc, post.message_id)
        await host.publish(outgoing)
        return receipt

    async def check(self) -> CheckResult:
        """Is the actor served where followers look for it, and do its deliveries get through?"""
        problem = await self._fetch_self()
        if problem:
            return CheckResult(ok=False, detail=problem)
        ledger = await self._require_host().ledger()
        detail = f"{ledger.followers} followers on {ledger.inboxes} inboxes"
        if ledger.inboxes and ledger.failing / ledger.inboxes > self.options.degraded_share:
            return CheckResult(ok=True, degraded=True, detail=f"{detail}; {ledger.failing} failing")
        return CheckResult(ok=True, detail=detail)

    async def _fetch_self(self) -> str | None:
        if self._session is None:
            return "not open"
        try:
            async with self._session.get(
                self.actor.id, headers={"Accept": ACTIVITY_JSON}, allow_redirects=False
            ) as resp:
                if resp.status != 200:
                    return f"the actor {self.actor.id} answers HTTP {resp.status}"
                doc: Any = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return f"the actor {self.actor.id} cannot be fetched: {type(exc).__name__}"
        if not isinstance(doc, dict) or doc.get("id") != self.actor.id:
            return f"{self.actor.id} does not serve this actor"
        return None

    def _require_host(self) -> ActorHost:
        if self._host is None:
            raise TransientError("the actor is not served yet (daemon starting)")
        return self._host


def _reply_target(post: Post) -> str | None:
    for receipt in (post.reply_to, post.thread_root):
        if receipt is not None:
            target = receipt.extra.get("note_id") or receipt.remote_id
            if target:
                return str(target)
    return None


def _parse_time(raw: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise PermanentError(f"stored Note has a bad 'published': {raw!r}") from None
