"""Mastodon-API servers (Mastodon, GoToSocial, Pleroma/Akkoma) through Mastodon.py.

Mastodon.py is synchronous (requests), so every call runs in the adapter's own small thread
pool, never on the event loop, each thread with its own client. Posts carry an
``Idempotency-Key`` derived from the post's key: a retry after a crash or an ambiguous failure
gets the same status back instead of a second one. Text limits come from the instance itself.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Literal, TypeVar

from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)
from pydantic import SecretStr

from channels.base import (
    IMAGE_TYPES,
    ChannelContext,
    ChannelOptions,
    CheckResult,
    Limits,
    Media,
    PermanentError,
    Post,
    RateBudget,
    RateLimitedError,
    Receipt,
    TextRule,
    TransientError,
)
from channels.http import check_credentials
from channels.text import url_reserved_length

T = TypeVar("T")
MEDIA_PROCESSING_LIMIT = 30.0  # seconds to wait for a 202 upload to become usable


class MastodonOptions(ChannelOptions):
    api_base_url: str
    access_token: SecretStr
    visibility: Literal["public", "unlisted", "private", "direct"] = "public"
    language: str | None = None  # default language of posts (ISO 639-1)
    timeout: float = 15.0
    threads: int = 4  # the Mastodon.py worker threads of this channel


class MastodonChannel:
    type_name: ClassVar[str] = "mastodon"
    Options: ClassVar[type[ChannelOptions]] = MastodonOptions
    # Mastodon's defaults, until open() reads the instance's own (also what a preview of a
    # channel that is not connected shows).
    _max_chars, _url_chars, _max_media = 500, 23, 4

    def __init__(self, context: ChannelContext, options: MastodonOptions) -> None:
        self.options = options
        self.context = context
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, options.threads), thread_name_prefix=f"mastodon-{context.name}"
        )
        self._local = threading.local()
        self._max_chars, self._url_chars, self._max_media = 500, 23, 4

    @property
    def limits(self) -> Limits:
        return Limits(
            text=TextRule("characters", self._max_chars, url_reserved_length(self._url_chars)),
            max_media=self._max_media, max_media_bytes=8 * 1024 * 1024, media_types=IMAGE_TYPES,
            threads=True,
        )  # fmt: skip

    # -- threads -------------------------------------------------------------------------------

    def _client(self) -> Mastodon:
        client: Mastodon | None = getattr(self._local, "client", None)
        if client is None:
            client = Mastodon(
                access_token=self.options.access_token.get_secret_value(),
                api_base_url=self.options.api_base_url,
                ratelimit_method="throw",  # the dispatcher decides when to retry, not a sleep
                request_timeout=self.options.timeout,
                version_check_mode="none",
                user_agent=self.context.user_agent,
            )
            self._local.client = client
        return client

    async def _run(self, fn: Callable[[Mastodon], T], *, write: bool = False) -> tuple[T, Mastodon]:
        def call() -> tuple[T, Mastodon]:
            client = self._client()
            try:
                return fn(client), client
            except MastodonRatelimitError as exc:
                reset = client.ratelimit_reset  # what the 429's X-RateLimit-Reset said
                exc.retry_after = max(1.0, reset - time.time()) if reset else 60.0  # type: ignore[attr-defined]
                raise

        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, call)
        except MastodonError as exc:
            raise _classify(exc, write) from exc

    async def retract(self, part: Receipt) -> None:
        """DELETE /api/v1/statuses/:id; a status the server no longer has (404) is gone."""
        if not part.remote_id:
            return
        try:
            await self._run(lambda c: c.status_delete(part.remote_id), write=True)
        except PermanentError as exc:
            if exc.status != 404:
                raise

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        """Read the instance's own limits (v2 instance API, v1 on older servers)."""
        try:
            instance, _ = await self._run(lambda c: c.instance_v2())
            config = dict(instance.get("configuration") or {})
        except (TransientError, PermanentError):
            try:
                instance, _ = await self._run(lambda c: c.instance_v1())
                config = dict(instance.get("configuration") or {})
            except (TransientError, PermanentError):
                return  # unreachable now: keep the defaults; health will say the rest
        statuses = dict(config.get("statuses") or {})
        self._max_chars = int(statuses.get("max_characters") or self._max_chars)
        self._url_chars = int(statuses.get("characters_reserved_per_url") or self._url_chars)
        self._max_media = int(statuses.get("max_media_attachments") or self._max_media)

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the post ------------------------------------------------------------------------------

    async def send(self, post: Post) -> Receipt:
        if len(post.media) > self._max_media:
            raise PermanentError(f"this server takes at most {self._max_media} images")
        for m in post.media:
            if m.content_type not in IMAGE_TYPES:
                raise PermanentError(f"{m.content_type} images are not supported")
        media_ids = [await self._upload(m) for m in post.media]
        reply_to = post.reply_to.remote_id if post.reply_to is not None else None
        status, client = await self._run(
            lambda c: c.status_post(
                post.text, in_reply_to_id=reply_to, media_ids=media_ids or None,
                visibility=self.options.visibility, spoiler_text=post.content_warning,
                sensitive=bool(post.content_warning),
                language=post.language or self.options.language,
                idempotency_key=post.key,
            ),
            write=True,
        )  # fmt: skip
        status_id = str(status["id"])
        return Receipt(
            remote_id=status_id, url=status.get("url") or status.get("uri"),
            extra={"id": status_id}, budget=_budget(client),
        )  # fmt: skip

    async def _upload(self, media: Media) -> str:
        """Upload with alt text; a 202 means the server is still processing: poll until ready."""
        uploaded, _ = await self._run(
            lambda c: c.media_post(
                io.BytesIO(media.data), mime_type=media.content_type,
                description=media.alt or None, file_name=media.filename,
            ),
            write=True,
        )  # fmt: skip
        media_id = str(uploaded["id"])
        delay, waited = 0.2, 0.0
        while uploaded.get("url") is None:
            if waited > MEDIA_PROCESSING_LIMIT:
                raise TransientError(f"media {media_id} still processing after {waited:.0f}s")
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 2.0)
            uploaded, _ = await self._run(lambda c: c.media(media_id))
        return media_id

    async def check(self) -> CheckResult:
        return await check_credentials(
            self._run(lambda c: c.account_verify_credentials()),
            lambda got: f"authenticated as @{got[0].get('acct')}",  # got: (account, client)
        )


def _budget(client: Mastodon) -> RateBudget | None:
    remaining, reset = client.ratelimit_remaining, client.ratelimit_reset
    if remaining is None or reset is None:
        return None
    return RateBudget(remaining=int(remaining), reset_after=max(0.0, float(reset) - time.time()))


def _classify(exc: MastodonError, write: bool) -> Exception:
    if isinstance(exc, MastodonRatelimitError):
        return RateLimitedError(
            "Mastodon 429: rate limited", retry_after=float(getattr(exc, "retry_after", 60.0))
        )
    if isinstance(exc, MastodonNetworkError):
        text = str(exc)
        refused = any(s in text for s in ("NewConnectionError", "Connection refused",
                                           "Failed to resolve", "Name or service not known"))  # fmt: skip
        return TransientError(
            f"Mastodon unreachable: {text[:200]}", maybe_delivered=write and not refused
        )
    if isinstance(exc, MastodonAPIError):
        args: list[Any] = list(exc.args) + [None] * 4
        status = args[1] if isinstance(args[1], int) else None
        detail = args[3] if isinstance(args[3], str) else args[2]
        reason = f"Mastodon {status}: {detail}"
        if isinstance(exc, MastodonServerError):
            return TransientError(
                reason, status=status, maybe_delivered=write and status in (500, 504)
            )
        if isinstance(exc, MastodonUnauthorizedError) or status == 403:
            return PermanentError(reason, status=status, credentials=True)
        if isinstance(exc, MastodonNotFoundError):
            return PermanentError(reason, status=status)
        if status == 429:
            return RateLimitedError(reason, retry_after=60.0)
        return PermanentError(reason, status=status)
    return TransientError(f"Mastodon.py: {type(exc).__name__}: {exc}")
