"""Any service Apprise reaches (Teams, Discord, Telegram, Matrix, ntfy, ...), one URL each.

Each URL is its own Apprise object, notified concurrently with Apprise's async API, so its
outcome (``AppriseResult`` status: success, failure, timeout) is known per URL. A retry sends
only to the URLs that have not succeeded yet (``progress``), so one failing service never makes
the others post twice. URLs carry tokens: only Apprise's privacy-masked form is ever shown.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import apprise
from pydantic import SecretStr, field_validator

from channels.base import (
    ChannelContext,
    ChannelOptions,
    CheckResult,
    Limits,
    PermanentError,
    Post,
    Receipt,
    TransientError,
)


class AppriseOptions(ChannelOptions):
    urls: list[SecretStr]
    timeout: float = 15.0  # per service, so the dispatcher's retry budget stays in charge

    @field_validator("urls")
    @classmethod
    def _some(cls, urls: list[SecretStr]) -> list[SecretStr]:
        if not urls:
            raise ValueError("give at least one Apprise URL")
        return urls


class AppriseChannel:
    type_name: ClassVar[str] = "apprise"
    Options: ClassVar[type[ChannelOptions]] = AppriseOptions

    def __init__(self, context: ChannelContext, options: AppriseOptions) -> None:
        self.options = options
        self.context = context
        self._targets: list[tuple[str, apprise.Apprise]] = []  # (masked URL, its Apprise)

    @property
    def limits(self) -> Limits:
        return Limits(text=None, title=True)  # each Apprise plugin fits text to its service

    async def open(self) -> None:
        targets = []
        for i, url in enumerate(self.options.urls):
            app = apprise.Apprise()
            if not app.add(url.get_secret_value()):
                scheme = url.get_secret_value().split("://", 1)[0]
                raise PermanentError(f"urls[{i}] ({scheme}://…) is not a URL Apprise understands")
            targets.append((str(app[0].url(privacy=True)), app))  # type: ignore[no-untyped-call]
        self._targets = targets

    async def close(self) -> None:
        self._targets = []

    async def send(self, post: Post) -> Receipt:
        body = post.text + (f"\n\n{post.link}" if post.link else "")
        done: set[int] = set(post.progress.get("sent", []))
        todo = [i for i in range(len(self._targets)) if i not in done]
        results = await asyncio.gather(*(self._notify(i, post.title or "", body) for i in todo))
        outcomes: dict[str, str] = {
            self._targets[i][0]: "sent (earlier attempt)" for i in sorted(done)
        }
        failed, maybe = [], False
        for i, status in zip(todo, results, strict=True):
            masked = self._targets[i][0]
            if status is apprise.AppriseResultStatus.SUCCESS:
                done.add(i)
                outcomes[masked] = "sent"
            else:
                outcomes[masked] = status.name.lower()
                failed.append(f"{masked}: {status.name.lower()}")
                maybe = maybe or status is apprise.AppriseResultStatus.TIMEOUT
        if failed:
            raise TransientError(
                f"{len(failed)} of {len(self._targets)} services failed: " + "; ".join(failed),
                maybe_delivered=maybe,
                progress={"sent": sorted(done), "outcomes": outcomes},
            )
        return Receipt(
            extra={"urls": outcomes}, note=f"{len(self._targets)} of {len(self._targets)} services"
        )

    async def _notify(self, index: int, title: str, body: str) -> apprise.AppriseResultStatus:
        _, app = self._targets[index]
        result: Any = await app.async_notify(body=body, title=title, timeout=self.options.timeout)
        status: apprise.AppriseResultStatus = result.status
        return status

    async def check(self) -> CheckResult:
        # Apprise can parse URLs but cannot test a service without notifying it.
        return CheckResult(
            ok=bool(self._targets),
            detail=f"{len(self._targets)} Apprise URLs parsed; services are not contacted",
        )
