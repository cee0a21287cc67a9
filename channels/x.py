"""X (Twitter) through API v2: ``POST /2/tweets`` with OAuth 1.0a user context or an OAuth 2.0
user bearer token, on a configurable base URL (tweepy hard-codes its host, so it cannot reach a
proxy or a test server; requests are signed with oauthlib's ``Client.sign`` instead).

X has no idempotency key. After an ambiguous attempt (``post.uncertain``) the adapter first
looks for the post among the account's latest ones, and treats X's duplicate-content refusal
as proof that the earlier attempt landed, not as a failure. The lookup may itself fail (the
Free tier refuses timeline reads with 403 ``client-not-enrolled``; 404, 5xx, timeouts): that
proves nothing either way, so the adapter posts again and lets the duplicate refusal tell —
never does a failed lookup make the post count as failed.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, ClassVar, Literal

import aiohttp
from oauthlib.oauth1 import Client as OAuth1Client
from pydantic import SecretStr, model_validator

from channels.base import (
    IMAGE_TYPES,
    ChannelContext,
    ChannelError,
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
from channels.http import check_credentials, excerpt, network_errors
from channels.text import x_weighted_length

# oauthlib logs signature base strings with the access token at DEBUG: never let it.
logging.getLogger("oauthlib").setLevel(logging.INFO)
log = logging.getLogger("channels.x")

DUPLICATE = "duplicate content"
Method = Literal["GET", "POST", "DELETE"]


class XOptions(ChannelOptions):
    api_base: str = "https://api.x.com"
    upload_base: str | None = None  # default: api_base
    consumer_key: SecretStr | None = None
    consumer_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    access_token_secret: SecretStr | None = None
    bearer_token: SecretStr | None = None  # OAuth 2.0 user context (not app-only)
    timeout: float = 15.0
    reconcile_lookback: int = 20  # latest posts searched after an ambiguous attempt
    profile_url: str = "https://x.com"

    @model_validator(mode="after")
    def _one_auth(self) -> XOptions:
        oauth1 = [
            self.consumer_key,
            self.consumer_secret,
            self.access_token,
            self.access_token_secret,
        ]
        if self.bearer_token is None and not all(oauth1):
            raise ValueError(
                "give either bearer_token (OAuth 2.0 user context) or all four of consumer_key, "
                "consumer_secret, access_token, access_token_secret (OAuth 1.0a)"
            )
        return self

    @property
    def auth_mode(self) -> Literal["oauth1", "oauth2"]:
        return "oauth2" if self.bearer_token is not None else "oauth1"


class XChannel:
    type_name: ClassVar[str] = "x"
    Options: ClassVar[type[ChannelOptions]] = XOptions

    def __init__(self, context: ChannelContext, options: XOptions) -> None:
        self.options = options
        self.context = context
        self.base = options.api_base.rstrip("/")
        self.upload_base = (options.upload_base or options.api_base).rstrip("/")
        self._session: aiohttp.ClientSession | None = None
        self._user: dict[str, str] | None = None  # id and username, from /2/users/me
        self._signer: OAuth1Client | None = None
        if options.auth_mode == "oauth1":
            self._signer = OAuth1Client(
                _secret(options.consumer_key),
                client_secret=_secret(options.consumer_secret),
                resource_owner_key=_secret(options.access_token),
                resource_owner_secret=_secret(options.access_token_secret),
            )

    @property
    def limits(self) -> Limits:
        return Limits(
            text=TextRule("weighted", 280, x_weighted_length),
            max_media=4,
            max_media_bytes=5 * 1024 * 1024,
            media_types=IMAGE_TYPES,
            threads=True,
        )

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.options.timeout),
            headers={"User-Agent": self.context.user_agent},
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    # -- the post --------------------------------------------------------------------------

    async def send(self, post: Post) -> Receipt:
        self._check_media(post.media)
        if post.uncertain:
            found = await self._find_earlier(post)
            if found is not None:
                return found
        media_ids = [await self._upload(m) for m in post.media]
        body: dict[str, Any] = {"text": post.text}
        if post.reply_to is not None and post.reply_to.remote_id:
            body["reply"] = {"in_reply_to_tweet_id": post.reply_to.remote_id}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        try:
            _, doc, headers = await self._call(
                "POST", f"{self.base}/2/tweets", json=body, write=True
            )
        except PermanentError as exc:
            if post.uncertain and DUPLICATE in exc.reason:
                # The earlier, ambiguous attempt did post: X refuses the same text twice.
                found = await self._find_earlier(post)
                return found or Receipt(note="X refused a duplicate: an earlier attempt posted it")
            raise
        tweet_id = str(doc["data"]["id"])
        return Receipt(
            remote_id=tweet_id,
            url=self._url(tweet_id),
            extra={"id": tweet_id},
            budget=_budget(headers),
        )

    async def retract(self, part: Receipt) -> None:
        """DELETE /2/tweets/:id. A tweet X no longer has (404, or ``deleted: false``) is gone."""
        if not part.remote_id:
            return
        try:
            await self._call("DELETE", f"{self.base}/2/tweets/{part.remote_id}", write=True)
        except PermanentError as exc:
            if exc.status != 404:
                raise

    def _check_media(self, media: tuple[Media, ...]) -> None:
        if len(media) > 4:
            raise PermanentError(f"X takes at most 4 images, got {len(media)}")
        for m in media:
            if m.content_type not in IMAGE_TYPES:
                raise PermanentError(f"X does not take {m.content_type} images")
            if len(m.data) > 5 * 1024 * 1024:
                raise PermanentError(f"image of {len(m.data)} bytes is over X's 5 MB limit")

    async def _upload(self, media: Media) -> str:
        form = aiohttp.FormData()
        form.add_field(
            "media", media.data, filename=media.filename, content_type=media.content_type
        )
        form.add_field("media_category", "tweet_image")
        _, doc, _ = await self._call(
            "POST", f"{self.upload_base}/2/media/upload", data=form, write=True
        )
        media_id = str(doc["data"]["id"])
        if media.alt:
            meta = {"id": media_id, "metadata": {"alt_text": {"text": media.alt[:1000]}}}
            await self._call("POST", f"{self.upload_base}/2/media/metadata", json=meta, write=True)
        return media_id

    async def _find_earlier(self, post: Post) -> Receipt | None:
        """The account's latest posts, searched for this text (after an ambiguous attempt).

        None when it is not there *or* the lookup failed: either way the caller posts, and a
        duplicate-content refusal then proves the earlier attempt landed."""
        try:
            user = await self._me()
            n = max(5, min(100, self.options.reconcile_lookback))
            url = f"{self.base}/2/users/{user['id']}/tweets?max_results={n}"
            _, doc, _ = await self._call("GET", url)
        except ChannelError as exc:
            log.warning("X reconcile lookup failed, posting again instead: %s", exc.reason)
            return None
        for tweet in doc.get("data") or []:
            if tweet.get("text") == post.text:
                tweet_id = str(tweet["id"])
                return Receipt(
                    remote_id=tweet_id,
                    url=self._url(tweet_id),
                    extra={"id": tweet_id},
                    note="found after an ambiguous attempt",
                )
        return None

    async def _me(self) -> dict[str, str]:
        if self._user is None:
            _, doc, _ = await self._call("GET", f"{self.base}/2/users/me")
            self._user = {
                "id": str(doc["data"]["id"]),
                "username": str(doc["data"].get("username", "")),
            }
        return self._user

    def _url(self, tweet_id: str) -> str:
        username = self._user["username"] if self._user else ""
        return f"{self.options.profile_url.rstrip('/')}/{username or 'i/web'}/status/{tweet_id}"

    # -- health ----------------------------------------------------------------------------

    async def check(self) -> CheckResult:
        self._user = None
        return await check_credentials(
            self._me(),
            lambda user: f"authenticated as @{user['username']}",
            # On the who-am-I call a 403 is a credentials problem too; on a send it may be a
            # refused post, so the error itself only marks a 401 as credentials.
            refused=lambda exc: exc.status in (401, 403),
        )

    # -- HTTP ------------------------------------------------------------------------------

    def _auth(self, method: Method, url: str) -> dict[str, str]:
        if self._signer is None:
            return {"Authorization": f"Bearer {_secret(self.options.bearer_token)}"}
        # A JSON or multipart body is not part of the OAuth 1.0a signature base string.
        _, headers, _ = self._signer.sign(url, http_method=method)
        return dict(headers)

    async def _call(
        self, method: Method, url: str, *, write: bool = False, **kw: Any
    ) -> tuple[int, dict[str, Any], Any]:
        assert self._session is not None, "open() first"
        with network_errors("X", write=write):
            async with self._session.request(
                method, url, headers=self._auth(method, url), **kw
            ) as resp:
                text = await resp.text(errors="replace")
                status, headers = resp.status, resp.headers
                ctype = resp.content_type
        doc = _json(text) if ctype == "application/json" or text.startswith("{") else {}
        if status < 300:
            if not isinstance(doc.get("data"), (dict, list)) and method == "POST":
                raise TransientError(
                    f"X answered {status} without data", status=status, maybe_delivered=write
                )
            return status, doc, headers
        raise _error(status, doc, text, headers, write)


def _error(status: int, doc: dict[str, Any], text: str, headers: Any, write: bool) -> Exception:
    detail = str(doc.get("detail") or doc.get("title") or "")
    messages = [str(e.get("message")) for e in doc.get("errors") or [] if isinstance(e, dict)]
    reason = f"X answered {status}: " + (
        "; ".join(filter(None, [detail, *messages])) or excerpt(text)
    )
    if status == 429:
        reset = headers.get("x-rate-limit-reset")
        retry = float(reset) - time.time() if reset and reset.isdigit() else 60.0
        return RateLimitedError(reason, retry_after=max(1.0, retry))
    if status >= 500:
        # An edge 503 was not processed; a 500/504 may have been.
        return TransientError(reason, status=status, maybe_delivered=write and status in (500, 504))
    if status == 401:
        return PermanentError(reason, status=status, credentials=True)
    if status == 403 and "duplicate" in detail.lower():
        return PermanentError(f"X refused {DUPLICATE}: {detail}", status=status)
    return PermanentError(reason, status=status)


def _budget(headers: Any) -> RateBudget | None:
    remaining, reset = headers.get("x-rate-limit-remaining"), headers.get("x-rate-limit-reset")
    if remaining is None or reset is None or not remaining.isdigit() or not reset.isdigit():
        return None
    return RateBudget(remaining=int(remaining), reset_after=max(0.0, int(reset) - time.time()))


def _json(text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""
