"""A signed JSON webhook: the glue to anything that takes an HTTP POST.

Each request carries ``Idempotency-Key`` (stable per message, channel and part) so a receiver
can drop the copy a retry after an ambiguous failure sends, and, with a secret, an HMAC-SHA256
signature over ``"{timestamp}." + body`` in ``X-Failover-Signature: sha256=<hex>`` with the
timestamp in ``X-Failover-Timestamp`` (the scheme Stripe and Slack use, so receivers can refuse
replays). ``Failover-Claim`` names the daemon and claim that sent the copy, for the receiver's
log. Answers map to the error hierarchy: 429 and 5xx are transient, other 4xx permanent.

With ``recipients_from`` the same body goes to every webhook subscriber the core attaches,
each signed with its own secret by ``sign`` below (channels/webhook_fanout.py); a copy a hook
missed is sent again later by ``resend``, with the same body and Idempotency-Key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, ClassVar, Literal

import aiohttp
from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from channels.base import (
    IMAGE_TYPES,
    ChannelContext,
    ChannelError,
    ChannelOptions,
    CheckResult,
    Limits,
    PermanentError,
    Post,
    RateBudget,
    RateLimitedError,
    Receipt,
    TextRule,
    TransientError,
)
from channels.http import excerpt, network_errors, retry_after
from channels.webhook_fanout import HookCopy, HookSource, HookTarget, fan_out, post_hook


class WebhookOptions(ChannelOptions):
    # "subscribers": POST each update to every webhook subscriber the core hands over, each
    # signed with its own secret (channels/webhook_fanout.py), instead of to ``url``.
    recipients_from: Literal["subscribers"] | None = None
    url: str | None = Field(None, validate_default=True)  # required unless recipients_from
    secret: SecretStr | None = None
    timeout: float = 10.0
    headers: dict[str, str] = {}
    check_url: str | None = None  # GET for check(); default: HEAD on ``url``
    max_text: int | None = None  # the receiver's own limit, if it has one

    @field_validator("url")
    @classmethod
    def _one_target(cls, value: str | None, info: ValidationInfo) -> str | None:
        fan_out = info.data.get("recipients_from") is not None
        if value is None and not fan_out:
            raise PydanticCustomError("missing", "Field required")
        if value is not None and fan_out:
            raise ValueError("give url or recipients_from, not both")
        return value


class WebhookChannel:
    type_name: ClassVar[str] = "webhook"
    Options: ClassVar[type[ChannelOptions]] = WebhookOptions

    def __init__(self, context: ChannelContext, options: WebhookOptions) -> None:
        self.options = options
        self.context = context
        self._session: aiohttp.ClientSession | None = None
        self.source: HookSource | None = None  # attached by the core for recipients_from

    @property
    def limits(self) -> Limits:
        return Limits(
            text=TextRule("characters", self.options.max_text) if self.options.max_text else None,
            max_media=4,
            max_media_bytes=5 * 1024 * 1024,
            media_types=IMAGE_TYPES,
            threads=True,
            title=True,
        )

    async def open(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.options.timeout)
        self._session = aiohttp.ClientSession(
            timeout=timeout, headers={"User-Agent": self.context.user_agent}
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _body(self, post: Post) -> bytes:
        return body_of(post)

    def _headers(self, key: str, claim: str | None, body: bytes) -> dict[str, str]:
        headers = {
            **self.options.headers,
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        }
        if claim is not None:
            headers["Failover-Claim"] = claim
        if self.options.secret is not None:
            headers.update(sign(self.options.secret.get_secret_value(), body))
        return headers

    async def resend(
        self, target: HookTarget, copy: HookCopy, claim: str | None = None
    ) -> ChannelError | None:
        """Send one subscriber hook a copy it missed again: the same body and Idempotency-Key,
        the channel's headers and a signature made now. None when the hook took it."""
        assert self._session is not None, "open() first"
        headers = self._headers(copy.key, claim, copy.body)
        return await post_hook(self._session, target, copy.body, headers, sign)

    async def send(self, post: Post) -> Receipt:
        assert self._session is not None, "open() first"
        body = self._body(post)
        if self.options.recipients_from is not None:
            if self.source is None:
                raise TransientError(f"no {self.options.recipients_from} list is attached yet")
            fanned = self._headers(post.key, post.claim, body)
            return await fan_out(self._session, post, body, fanned, self.source, sign)
        assert self.options.url is not None  # the validator insists on one of the two
        with network_errors("the webhook", write=True):
            async with self._session.post(
                self.options.url, data=body, headers=self._headers(post.key, post.claim, body)
            ) as resp:
                text = await resp.text(errors="replace")
                status = resp.status
                headers = resp.headers
        if 200 <= status < 300:
            return _receipt(text, headers)
        reason = f"HTTP {status}: {excerpt(text)}"
        if status == 429:
            raise RateLimitedError(reason, retry_after=retry_after(headers, 30.0))
        if status in (408, 425) or status >= 500:
            raise TransientError(reason, status=status)
        raise PermanentError(reason, status=status, credentials=status in (401, 403))

    async def check(self) -> CheckResult:
        assert self._session is not None, "open() first"
        if self.options.url is None and self.options.check_url is None:
            return CheckResult(ok=True, detail="fans out to the subscribers' own hooks")
        url = self.options.check_url or self.options.url
        assert url is not None
        method = "GET" if self.options.check_url else "HEAD"
        try:
            async with self._session.request(method, url) as resp:
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return CheckResult(ok=False, detail=f"unreachable: {type(exc).__name__}")
        if status in (401, 403) and self.options.check_url:
            return CheckResult(ok=False, detail=f"HTTP {status}", credentials=True)
        # A HEAD on a POST-only endpoint may answer 405: the server is there, that is enough.
        return CheckResult(ok=status < 500, detail=f"HTTP {status}")


def sign(secret: str, body: bytes) -> dict[str, str]:
    """The signature headers: HMAC-SHA256 over ``"{timestamp}." + body`` (also used for each
    webhook subscriber, with its own secret)."""
    ts = str(int(time.time()))
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Failover-Timestamp": ts, "X-Failover-Signature": f"sha256={mac}"}


def body_of(post: Post) -> bytes:
    """The JSON document a post becomes (the same for every receiver)."""
    doc: dict[str, Any] = {
        "message_id": post.message_id,
        "key": post.key,
        "text": post.text,
        "title": post.title,
        "link": post.link,
        "content_warning": post.content_warning,
        "language": post.language,
        "part": post.part,
        "parts": post.parts,
        "created_at": post.created_at.isoformat(),
        "reply_to": post.reply_to.remote_id if post.reply_to else None,
        "thread_root": post.thread_root.remote_id if post.thread_root else None,
        "images": [
            {
                "content_type": m.content_type,
                "alt": m.alt,
                "data": base64.b64encode(m.data).decode(),
            }
            for m in post.media
        ],
    }
    return json.dumps(doc, ensure_ascii=False).encode()


def _receipt(text: str, headers: Any) -> Receipt:
    remote_id = url = None
    try:
        doc = json.loads(text) if text else {}
    except ValueError:
        doc = {}
    if isinstance(doc, dict):
        remote_id = str(doc["id"]) if doc.get("id") is not None else None
        url = doc.get("url") if isinstance(doc.get("url"), str) else None
    budget = None
    remaining, reset = headers.get("RateLimit-Remaining"), headers.get("RateLimit-Reset")
    if remaining is not None and reset is not None:
        try:
            budget = RateBudget(remaining=int(remaining), reset_after=float(reset))
        except ValueError:
            budget = None
    return Receipt(remote_id=remote_id, url=url, extra={"id": remote_id}, budget=budget)
