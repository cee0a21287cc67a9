"""A webhook channel's fan-out to many hooks the core hands over (webhook subscribers), each
signed with its own secret by the webhook channel's own signing.

One hook that fails is that subscriber's problem, not the channel's: it is reported to the
source (which counts consecutive failures and tells the hook's contact) and the delivery
still succeeds, so a dead subscriber hook never marks the channel down or reroutes an update.
Hooks that took a copy are kept in ``progress``, so a retry never posts twice to them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from channels.base import Post, Receipt

Sign = Callable[[str, bytes], dict[str, str]]
PARALLEL = 8  # hooks posted to at once


@dataclass(frozen=True)
class HookTarget:
    key: str  # the source's own id for it
    url: str
    secret: str | None


class HookSource(Protocol):
    async def targets(self, post: Post) -> Sequence[HookTarget]:
        """The hooks this post goes to, now."""

    async def result(self, key: str, error: str | None) -> None:
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

    async def one(target: HookTarget) -> None:
        signed = {**headers, **(sign(target.secret, body) if target.secret else {})}
        async with gate:
            error = await _post(session, target.url, body, signed)
        await source.result(target.key, error)
        if error is None:
            done.add(target.key)
        else:
            failed[target.key] = error

    await asyncio.gather(*(one(t) for t in targets))
    note = f"{len(done)} hooks took it"
    if failed:
        note += f"; {len(failed)} failed, e.g. {next(iter(failed.values()))}"
    return Receipt(extra={"sent": len(done), "failed": len(failed)}, note=note)


async def _post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str]
) -> str | None:
    try:
        async with session.post(url, data=body, headers=dict(headers)) as resp:
            if 200 <= resp.status < 300:
                return None
            return f"HTTP {resp.status}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"[:200]
