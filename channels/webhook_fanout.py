"""A webhook channel's fan-out to many hooks the core hands over (webhook subscribers), each
signed with its own secret by the webhook channel's own signing.

One hook that fails is that subscriber's problem, not the channel's: it is reported to the
source with the copy it missed (the core keeps it and sends it again later, unchanged, through
``post_hook``) and the delivery still succeeds, so a dead subscriber hook never marks the
channel down or reroutes an update. Hooks that took a copy are kept in ``progress``, so a
retry never posts twice to them. Answers map to the error hierarchy as for a single webhook:
408, 425, 5xx and network errors are transient, 429 (and a 503 with ``Retry-After``) rate
limited, other answers permanent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from channels.base import (
    ChannelError,
    PermanentError,
    Post,
    RateLimitedError,
    Receipt,
    TransientError,
)
from channels.http import retry_after

Sign = Callable[[str, bytes], dict[str, str]]
PARALLEL = 8  # hooks posted to at once


@dataclass(frozen=True)
class HookTarget:
    key: str  # the source's own id for it
    url: str
    secret: str | None


@dataclass(frozen=True)
class HookCopy:
    """What one hook was sent, to send again unchanged: a receiver tells a repeat by its
    ``Idempotency-Key`` (and the body's own ``key``)."""

    message_id: int
    key: str  # the Idempotency-Key header
    body: bytes


class HookSource(Protocol):
    async def targets(self, post: Post) -> Sequence[HookTarget]:
        """The hooks this post goes to, now."""

    async def result(self, key: str, error: ChannelError | None, copy: HookCopy) -> None:
        """How one hook took its copy: None when it answered 2xx."""


async def fan_out(
    session: aiohttp.ClientSession,
    post: Post,
    body: bytes,
    headers: Mapping[str, str],
    source: HookSource,
    sign: Sign,
) -> Receipt:
    done = set(post.progress.get("sent", []))
    targets = [t for t in await source.targets(post) if t.key not in done]
    failed: dict[str, str] = {}
    gate = asyncio.Semaphore(PARALLEL)
    copy = HookCopy(post.message_id, headers.get("Idempotency-Key", post.key), body)

    async def one(target: HookTarget) -> None:
        async with gate:
            error = await post_hook(session, target, body, headers, sign)
        await source.result(target.key, error, copy)
        if error is None:
            done.add(target.key)
        else:
            failed[target.key] = error.reason

    await asyncio.gather(*(one(t) for t in targets))
    note = f"{len(done)} hooks took it"
    if failed:
        note += f"; {len(failed)} failed, e.g. {next(iter(failed.values()))}"
    return Receipt(extra={"sent": len(done), "failed": len(failed)}, note=note)


async def post_hook(
    session: aiohttp.ClientSession,
    target: HookTarget,
    body: bytes,
    headers: Mapping[str, str],
    sign: Sign,
) -> ChannelError | None:
    """POST ``body`` to one hook, signed now with its own secret; None when it took it."""
    signed = {**headers, **(sign(target.secret, body) if target.secret else {})}
    try:
        async with session.post(target.url, data=body, headers=signed) as resp:
            status, answer = resp.status, resp.headers
    except (aiohttp.ClientError, TimeoutError) as exc:
        return TransientError(f"{type(exc).__name__}: {exc}"[:200])
    if 200 <= status < 300:
        return None
    reason = f"HTTP {status}"
    if status == 429 or (status == 503 and "Retry-After" in answer):
        return RateLimitedError(reason, retry_after=retry_after(answer, 0.0), status=status)
    if status in (408, 425) or status >= 500:
        return TransientError(reason, status=status)
    return PermanentError(reason, status=status)
