"""A signed JSON webhook: the glue to anything that takes an HTTP POST.

Each request carries ``Idempotency-Key`` (stable per message, channel and part) so a receiver
can drop the copy a retry after an ambiguous failure sends, and, with a secret, an HMAC-SHA256
signature over ``"{timestamp}." + body`` in ``X-Failover-Signature: sha256=<hex>`` with the
timestamp in ``X-Failover-Timestamp`` (the scheme Stripe and Slack use, so receivers can refuse
replays). ``Failover-Claim`` names the daemon and claim that sent the copy, for the receiver's
log. Answers map to the error hierarchy: 429 and 5xx are transient, other 4xx permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, ClassVar

import aiohttp
from pydantic import SecretStr

from channels.base import (
    IMAGE_TYPES,
    ChannelContext,
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


class WebhookOptions(ChannelOptions):
    url: str
    secret: SecretStr | None = None
    timeout: float = 10.0
    headers: dict[str, str] = {}
    check_url: str | None = None  # GET for check(); default: HEAD on ``url``
    max_text: int | None = None  # the receiver's own limit, if it has one


class WebhookChannel:
    type_name: ClassVar[str] = "webhook"
    Options: ClassVar[type[ChannelOptions]] = WebhookOptions

    def __init__(self, context: ChannelContext, options: WebhookOptions) -> None:
        self.options = options
        self.context = context
        self._session: aiohttp.ClientSession | None = None

    @property
    def limits(self) -> Limits:
        return Limits(
            text=TextRule("characters", self.options.max_text) if self.options.max_text else None,
            max_media=4,
            max_media_bytes=5 * 1024 * 1024,
            media_types=IMAGE_TYPES,
            threads=True,
            idempotent=True,
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

    def _headers(self, post: Post, body: bytes) -> dict[str, str]:
        headers = {
            **self.options.headers,
            "Content-Type": "application/json",
            "Idempotency-Key": post.key,
        }
        if post.claim is not None:
            headers["Failover-Claim"] = post.claim
        if self.options.secret is not None:
            ts = str(int(time.time()))
            secret = self.options.secret.get_secret_value().encode()
            mac = hmac.new(secret, f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
            headers["X-Failover-Timestamp"] = ts
            headers["X-Failover-Signature"] = f"sha256={mac}"
        return headers

    async def send(self, post: Post) -> Receipt:
        assert self._session is not None, "open() first"
        body = self._body(post)
        with network_errors("the webhook", write=True):
            async with self._session.post(
                self.options.url, data=body, headers=self._headers(post, body)
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
        url = self.options.check_url or self.options.url
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
