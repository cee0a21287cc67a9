"""Slack through slack-sdk's async clients: ``chat.postMessage`` with a bot token (threads via
``thread_ts``), or an incoming webhook.

Slack answers most errors with HTTP 200 and ``ok: false``; they are sorted here into the three
kinds the core understands. slack-sdk's own retry handlers are switched off (they would retry a
dropped connection by themselves and could post twice): retrying is the dispatcher's job.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import aiohttp
from pydantic import SecretStr, model_validator
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from channels.base import (
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
from channels.http import excerpt, network_errors, retry_after
from channels.text import URL_RE

CREDENTIAL_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
     "missing_scope", "no_permission", "ekm_access_denied"}
)  # fmt: skip
TRANSIENT_ERRORS = frozenset(
    {"fatal_error", "internal_error", "service_unavailable", "request_timeout"}
)
WEBHOOK_CREDENTIAL = frozenset({"invalid_token", "no_service", "action_prohibited"})

# slack-sdk logs each request's URL at DEBUG, and a webhook URL is a secret: never below INFO.
SDK_LOG = logging.getLogger("failover.slack_sdk")
SDK_LOG.setLevel(logging.INFO)


class SlackOptions(ChannelOptions):
    token: SecretStr | None = None  # bot token (xoxb-...)
    channel: str | None = None  # channel id or name, with a token
    webhook_url: SecretStr | None = None  # or an incoming webhook instead
    api_base: str = "https://slack.com/api/"
    timeout: int = 15
    username: str | None = None
    icon_emoji: str | None = None

    @model_validator(mode="after")
    def _one_mode(self) -> SlackOptions:
        if (self.token is None) == (self.webhook_url is None):
            raise ValueError("give either token and channel, or webhook_url")
        if self.token is not None and not self.channel:
            raise ValueError("channel is required with a token")
        return self


def mrkdwn(post: Post) -> str:
    """Slack's text format: &, < and > escaped, links as <url>, the title in bold."""

    def esc(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    parts, pos = [], 0
    for m in URL_RE.finditer(post.text):
        parts.append(esc(post.text[pos : m.start()]))
        parts.append(f"<{esc(m.group(0))}>")
        pos = m.end()
    parts.append(esc(post.text[pos:]))
    text = "".join(parts)
    if post.title:
        text = f"*{esc(post.title)}*\n{text}"
    if post.link:
        text += f"\n<{esc(post.link)}>"
    return text


class SlackChannel:
    type_name: ClassVar[str] = "slack"
    Options: ClassVar[type[ChannelOptions]] = SlackOptions

    def __init__(self, context: ChannelContext, options: SlackOptions) -> None:
        self.options = options
        self.context = context
        self._web: AsyncWebClient | None = None
        self._hook: AsyncWebhookClient | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def limits(self) -> Limits:
        # Slack truncates text beyond 40,000 characters; it asks to keep messages under 4,000.
        return Limits(
            text=TextRule("characters", 4000), threads=self.options.token is not None, title=True
        )

    async def open(self) -> None:
        # slack-sdk uses a session's own timeout when given one.
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.options.timeout)
        )
        if self.options.token is not None:
            self._web = AsyncWebClient(
                token=self.options.token.get_secret_value(), base_url=self.options.api_base,
                timeout=self.options.timeout, session=self._session, retry_handlers=[],
                logger=SDK_LOG,
            )  # fmt: skip
        else:
            assert self.options.webhook_url is not None
            self._hook = AsyncWebhookClient(
                url=self.options.webhook_url.get_secret_value(), timeout=self.options.timeout,
                session=self._session, retry_handlers=[], logger=SDK_LOG,
            )  # fmt: skip

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, post: Post) -> Receipt:
        text = mrkdwn(post)
        if self._hook is not None:
            return await self._send_webhook(text)
        assert self._web is not None and self.options.channel is not None
        if post.uncertain:
            found = await self._find_earlier(text)
            if found is not None:
                return found
        parent = post.thread_root or post.reply_to
        kwargs: dict[str, Any] = {"channel": self.options.channel, "text": text, "mrkdwn": True,
                                  "unfurl_links": False}  # fmt: skip
        if parent is not None and parent.extra.get("ts"):
            kwargs["thread_ts"] = parent.extra["ts"]
        if self.options.username:
            kwargs["username"] = self.options.username
        if self.options.icon_emoji:
            kwargs["icon_emoji"] = self.options.icon_emoji
        resp = await self._call(self._web.chat_postMessage(**kwargs), write=True)
        ts, channel = str(resp["ts"]), str(resp["channel"])
        url = None
        try:
            link = await self._web.chat_getPermalink(channel=channel, message_ts=ts)
            url = str(link["permalink"])
        except (SlackApiError, aiohttp.ClientError, TimeoutError):
            pass  # the post is made; a missing link is not worth failing it
        return Receipt(remote_id=ts, url=url, extra={"ts": ts, "channel": channel})

    async def retract(self, part: Receipt) -> None:
        """chat.delete; only with a bot token (an incoming webhook cannot delete its posts)."""
        ts, channel = part.extra.get("ts") or part.remote_id, part.extra.get("channel")
        if self._web is None or not ts or not channel:
            raise PermanentError("Slack: posted through an incoming webhook, which cannot delete")
        try:
            await self._call(self._web.chat_delete(channel=str(channel), ts=str(ts)), write=True)
        except PermanentError as exc:
            if "message_not_found" not in exc.reason:
                raise

    async def _find_earlier(self, text: str) -> Receipt | None:
        """After an ambiguous attempt: the channel's latest messages, searched for this text."""
        assert self._web is not None
        try:
            history = await self._web.conversations_history(
                channel=self.options.channel or "", limit=20
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError):
            return None  # no history scope or Slack unreachable: post (a rare duplicate)
        for message in history.get("messages") or []:
            if message.get("text") == text:
                ts = str(message["ts"])
                return Receipt(remote_id=ts, extra={"ts": ts, "channel": self.options.channel},
                               note="found after an ambiguous attempt")  # fmt: skip
        return None

    async def _call(self, call: Any, *, write: bool = False) -> Any:
        try:
            with network_errors("Slack", write=write):
                return await call
        except SlackApiError as exc:
            raise _classify(exc) from exc

    async def _send_webhook(self, text: str) -> Receipt:
        assert self._hook is not None
        with network_errors("Slack", write=True):
            resp = await self._hook.send(text=text, unfurl_links=False)
        body = (resp.body or "").strip()
        if resp.status_code == 200:
            return Receipt(note="sent through an incoming webhook")
        reason = f"Slack webhook {resp.status_code}: {excerpt(body)}"
        if resp.status_code == 429:
            raise RateLimitedError(reason, retry_after=retry_after(resp.headers, 30.0))
        if resp.status_code >= 500:
            raise TransientError(reason, status=resp.status_code)
        raise PermanentError(
            reason, status=resp.status_code, credentials=body in WEBHOOK_CREDENTIAL
        )

    async def check(self) -> CheckResult:
        if self._web is None:
            return CheckResult(
                ok=True, detail="incoming webhook: Slack offers no check without posting"
            )
        try:
            resp = await self._call(self._web.auth_test())
        except PermanentError as exc:
            return CheckResult(ok=False, detail=exc.reason, credentials=exc.credentials)
        except TransientError as exc:
            return CheckResult(ok=False, detail=exc.reason)
        return CheckResult(
            ok=True, detail=f"authenticated as {resp.get('user')} in {resp.get('team')}"
        )


def _classify(exc: SlackApiError) -> Exception:
    status = exc.response.status_code
    error = (
        str(exc.response.get("error") or f"HTTP {status}") if _is_json(exc) else f"HTTP {status}"
    )
    reason = f"Slack: {error}"
    if status == 429 or error == "ratelimited":
        return RateLimitedError(reason, retry_after=retry_after(exc.response.headers, 30.0))
    if status >= 500 or error in TRANSIENT_ERRORS:
        return TransientError(reason, status=status)
    return PermanentError(reason, status=status, credentials=error in CREDENTIAL_ERRORS)


def _is_json(exc: SlackApiError) -> bool:
    return isinstance(exc.response.data, dict)
