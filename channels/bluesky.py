"""Bluesky (any AT Protocol PDS) through the ``atproto`` SDK's async client.

One session per channel, kept in the channel's state directory and refreshed as the SDK sees
fit (never a login per post: createSession is tightly rate-limited); an expired or revoked
access token is refreshed once, then the app password logs in again. Posts are written with
``com.atproto.repo.createRecord`` (which every PDS serves, with or without an AppView), with
link and hashtag facets at UTF-8 byte offsets, reply refs for threads, and images with alt
text. Each post's record key is derived from its idempotency key, so a retry after an
ambiguous failure finds the record instead of writing a second one.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
from pathlib import Path
from typing import Any, ClassVar

import httpx
from atproto import AsyncClient
from atproto_client.exceptions import (
    AtProtocolError,
    BadRequestError,
    LoginRequiredError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.request import AsyncRequest
from pydantic import SecretStr

from channels.base import (
    IMAGE_TYPES,
    ChannelContext,
    ChannelOptions,
    CheckResult,
    Limits,
    PermanentError,
    Post,
    RateLimitedError,
    Receipt,
    TextRule,
    TransientError,
)
from channels.http import check_credentials
from channels.text import URL_RE, grapheme_length

POST = "app.bsky.feed.post"
MAX_BLOB = 1_000_000
TAG_RE = re.compile(r"(?<![\w#])#([^\s#.,;:!?()\[\]{}'\"]{1,64})")
TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})
S32 = "234567abcdefghijklmnopqrstuvwxyz"


class BlueskyOptions(ChannelOptions):
    service: str = "https://bsky.social"  # the account's PDS
    handle: str
    app_password: SecretStr
    timeout: float = 15.0
    language: str | None = None
    web: str = "https://bsky.app"  # where post links point


def tid_for(post: Post) -> str:
    """A TID-shaped record key, the same for every attempt of this post (and distinct per part)."""
    micros = int(post.created_at.timestamp() * 1_000_000) + post.part
    clock = int.from_bytes(hashlib.sha256(post.key.encode()).digest()[:2], "big") & 0x3FF
    n = (micros << 10) | clock
    return "".join(S32[(n >> (5 * i)) & 31] for i in reversed(range(13)))


def facets(text: str) -> list[dict[str, Any]]:
    """Links and hashtags as facets; offsets are UTF-8 byte positions, as the lexicon says."""

    def at(i: int) -> int:
        return len(text[:i].encode())

    out: list[dict[str, Any]] = [
        {"index": {"byteStart": at(m.start()), "byteEnd": at(m.end())},
         "features": [{"$type": "app.bsky.richtext.facet#link", "uri": m.group(0)}]}
        for m in URL_RE.finditer(text)
    ]  # fmt: skip
    urls = [(f["index"]["byteStart"], f["index"]["byteEnd"]) for f in out]
    for m in TAG_RE.finditer(text):
        start, end = at(m.start()), at(m.end())
        if any(s <= start < e for s, e in urls):
            continue  # a "#fragment" inside a link is part of the link
        out.append({"index": {"byteStart": start, "byteEnd": end},
                    "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": m.group(1)}]})  # fmt: skip
    return sorted(out, key=lambda f: f["index"]["byteStart"])


class BlueskyChannel:
    type_name: ClassVar[str] = "bluesky"
    Options: ClassVar[type[ChannelOptions]] = BlueskyOptions

    def __init__(self, context: ChannelContext, options: BlueskyOptions) -> None:
        self.options = options
        self.context = context
        self.session_file: Path = context.state_dir / "session"
        self._client: AsyncClient | None = None
        self._lock = asyncio.Lock()
        self.logins = 0  # createSession calls made by this adapter (they are rate-limited)
        self._logged_in = False

    @property
    def limits(self) -> Limits:
        return Limits(
            text=TextRule("graphemes", 300, grapheme_length), max_media=4,
            max_media_bytes=MAX_BLOB, media_types=IMAGE_TYPES, threads=True,
        )  # fmt: skip

    async def open(self) -> None:
        request = AsyncRequest(timeout=httpx.Timeout(self.options.timeout))
        self._client = AsyncClient(
            base_url=self.options.service.rstrip("/") + "/xrpc", request=request
        )
        # Logged in lazily, on first use: a PDS down at start must not disable the channel.
        self._client.on_session_change(self._save_session)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.request.close()

    # -- session -------------------------------------------------------------------------------

    async def _save_session(self, event: Any, session: Any) -> None:
        data = session.export()
        tmp = self.session_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(data)
        os.replace(tmp, self.session_file)

    async def _ensure_session(self, *, fresh: bool = False) -> AsyncClient:
        assert self._client is not None, "open() first"
        async with self._lock:
            if self._logged_in and not fresh:
                return self._client
            saved = self.session_file.read_text() if self.session_file.exists() else None
            try:
                if saved and not fresh:
                    await self._client.login(session_string=saved, fetch_bsky_profile=False)
                else:
                    self.logins += 1
                    await self._client.login(
                        self.options.handle, self.options.app_password.get_secret_value(),
                        fetch_bsky_profile=False,
                    )  # fmt: skip
            except AtProtocolError as exc:
                raise _classify(exc, write=False, what="login") from exc
            except httpx.HTTPError as exc:
                raise _lost(exc, write=False) from exc
            self._logged_in = True
            return self._client

    async def _call(self, fn: Any, *, write: bool = False) -> Any:
        """Run ``fn(client)``; on an expired or revoked access token, log in again once."""
        client = await self._ensure_session()
        try:
            return await fn(client)
        except (UnauthorizedError, BadRequestError, LoginRequiredError) as exc:
            if not _token_problem(exc):
                raise _classify(exc, write) from exc
        except AtProtocolError as exc:
            raise _classify(exc, write) from exc
        except httpx.HTTPError as exc:  # what the SDK does not wrap (a dropped connection)
            raise _lost(exc, write) from exc
        try:  # the access token expired early or was revoked: refresh it, else log in again
            async with self._lock:
                await client._refresh_and_set_session()
        except AtProtocolError:
            client = await self._ensure_session(fresh=True)
        try:
            return await fn(client)
        except AtProtocolError as exc:
            raise _classify(exc, write) from exc
        except httpx.HTTPError as exc:
            raise _lost(exc, write) from exc

    # -- the post ------------------------------------------------------------------------------

    async def send(self, post: Post) -> Receipt:
        if len(post.media) > 4:
            raise PermanentError(f"Bluesky takes at most 4 images, got {len(post.media)}")
        for m in post.media:
            if m.content_type not in IMAGE_TYPES or len(m.data) > MAX_BLOB:
                raise PermanentError(f"image {m.filename} ({m.content_type}, {len(m.data)} bytes): "
                                     "Bluesky takes PNG/JPEG/WebP/GIF up to 1,000,000 bytes")  # fmt: skip
        rkey = tid_for(post)
        client = await self._ensure_session()
        session = client._session  # the SDK keeps the account's DID there
        assert session is not None
        did = session.did
        if post.uncertain:
            found = await self._existing(did, rkey)
            if found is not None:
                return found
        record: dict[str, Any] = {
            "$type": POST, "text": post.text,
            "createdAt": post.created_at.isoformat().replace("+00:00", "Z"),
        }  # fmt: skip
        if spans := facets(post.text):
            record["facets"] = spans
        if post.language or self.options.language:
            record["langs"] = [post.language or self.options.language]
        parent, root = post.reply_to, post.thread_root or post.reply_to
        if (
            parent is not None
            and root is not None
            and parent.extra.get("uri")
            and root.extra.get("uri")
        ):
            record["reply"] = {
                "root": {"uri": root.extra["uri"], "cid": root.extra["cid"]},
                "parent": {"uri": parent.extra["uri"], "cid": parent.extra["cid"]},
            }
        if post.media:
            images = []
            for m in post.media:
                blob = await self._call(
                    lambda c, m=m: c.com.atproto.repo.upload_blob(m.data, headers={"Content-Type": m.content_type}),
                    write=True,
                )  # fmt: skip
                images.append({"image": blob.blob, "alt": m.alt})
            record["embed"] = {"$type": "app.bsky.embed.images", "images": images}
        data = {"repo": did, "collection": POST, "rkey": rkey, "record": record}
        try:
            created = await self._call(lambda c: c.com.atproto.repo.create_record(data), write=True)
        except (PermanentError, TransientError) as exc:
            # The reference PDS answers a record key that already exists with a bare 500: an
            # earlier attempt wrote it. Look before calling it a failure.
            if exc.status in (400, 500):
                found = await self._existing(did, rkey)
                if found is not None:
                    return found
            raise
        return self._receipt(str(created.uri), str(created.cid))

    async def retract(self, part: Receipt) -> None:
        """com.atproto.repo.deleteRecord for the post's record (a missing one is no error)."""
        uri = str(part.extra.get("uri") or part.remote_id or "")
        if not uri.startswith("at://"):
            return
        repo, collection, rkey = uri.removeprefix("at://").split("/", 2)
        data = {"repo": repo, "collection": collection, "rkey": rkey}
        await self._call(lambda c: c.com.atproto.repo.delete_record(data), write=True)

    async def _existing(self, did: str, rkey: str) -> Receipt | None:
        try:
            got = await self._call(
                lambda c: c.com.atproto.repo.get_record(
                    {"repo": did, "collection": POST, "rkey": rkey}
                )
            )
        except PermanentError:
            return None  # RecordNotFound: it was never written
        return self._receipt(str(got.uri), str(got.cid), note="found after an ambiguous attempt")

    def _receipt(self, uri: str, cid: str, note: str | None = None) -> Receipt:
        rkey = uri.rsplit("/", 1)[1]
        url = f"{self.options.web.rstrip('/')}/profile/{self.options.handle}/post/{rkey}"
        return Receipt(remote_id=uri, url=url, extra={"uri": uri, "cid": cid}, note=note)

    async def check(self) -> CheckResult:
        return await check_credentials(
            self._call(lambda c: c.com.atproto.server.get_session()),
            lambda got: f"session for {got.handle}",
        )


def _token_problem(exc: AtProtocolError) -> bool:
    if isinstance(exc, LoginRequiredError):
        return True
    content = getattr(getattr(exc, "response", None), "content", None)
    return getattr(content, "error", None) in TOKEN_ERRORS


def _classify(exc: AtProtocolError, write: bool, what: str = "request") -> Exception:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    content = getattr(response, "content", None)
    error = getattr(content, "error", None)
    message = getattr(content, "message", None)
    reason = f"Bluesky {what} {status or ''}: {error or type(exc).__name__}" + (
        f": {message}" if message else ""
    )
    if isinstance(exc, RateLimitExceededError) or status == 429:
        return RateLimitedError(reason, retry_after=_reset_in(response))
    if isinstance(exc, UnauthorizedError) or error in ("AuthenticationRequired", "AccountTakedown"):
        return PermanentError(reason, status=status, credentials=True)
    if isinstance(exc, LoginRequiredError) or error in TOKEN_ERRORS:
        return PermanentError(reason, status=status, credentials=True)
    if isinstance(exc, BadRequestError):
        return PermanentError(reason, status=status)
    if isinstance(exc, NetworkError) and response is None:
        cause = exc.__cause__
        refused = isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout))
        return TransientError(
            f"Bluesky unreachable: {type(cause).__name__}", maybe_delivered=write and not refused
        )
    if isinstance(exc, RequestErrorBase):
        return TransientError(reason, status=status, maybe_delivered=write and status in (500, 504))
    return TransientError(reason)


def _lost(exc: httpx.HTTPError, write: bool) -> TransientError:
    refused = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
    return TransientError(
        f"Bluesky connection lost: {type(exc).__name__}", maybe_delivered=write and not refused
    )


def _reset_in(response: Any) -> float:
    headers = getattr(response, "headers", None) or {}
    reset = headers.get("ratelimit-reset") or headers.get("RateLimit-Reset")
    if reset and str(reset).isdigit():
        return max(1.0, int(reset) - time.time())
    return 60.0
