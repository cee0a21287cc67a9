"""A short-lived cache of the public page's rendered responses.

The status page is read hardest during an incident, exactly when the daemon must keep
posting: each path is rendered at most once per ``ttl`` seconds, and readers arriving while
it renders wait for that one render instead of starting their own. A page may therefore be
up to ``ttl`` old (as any cache in front of it may be, Cache-Control allows 30 s); only 200
answers are kept, and at most ``size`` paths.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True)
class Rendered:
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...]

    def response(self) -> web.Response:
        """A fresh response each time (aiohttp responses are single-use)."""
        return web.Response(body=self.body, content_type=self.content_type, charset="utf-8",
                            headers=dict(self.headers))  # fmt: skip


class RenderCache:
    def __init__(self, ttl: float, monotonic: Callable[[], float], size: int = 256) -> None:
        self.ttl = ttl
        self.monotonic = monotonic
        self.size = size
        self._done: dict[str, tuple[float, Rendered]] = {}
        self._running: dict[str, asyncio.Future[Rendered]] = {}

    async def get(self, key: str, render: Callable[[], Awaitable[web.Response]]) -> web.Response:
        now = self.monotonic()
        hit = self._done.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1].response()
        running = self._running.get(key)
        if running is not None:
            try:
                return (await asyncio.shield(running)).response()
            except asyncio.CancelledError:
                if not running.cancelled():
                    raise  # this reader was cancelled
                return await render()  # the one rendering was: render for this reader
        future: asyncio.Future[Rendered] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            response = await render()
            rendered = _keep(response)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: whoever waits gets it, nobody else must
            raise
        finally:
            del self._running[key]
        future.set_result(rendered)
        if response.status == 200:
            self._store(key, now, rendered)
        return response

    def _store(self, key: str, now: float, rendered: Rendered) -> None:
        if len(self._done) >= self.size:
            old = [k for k, (at, _) in self._done.items() if now - at >= self.ttl]
            for k in old or list(self._done)[: len(self._done) // 2]:
                del self._done[k]
        self._done[key] = (now, rendered)


def _keep(response: web.Response) -> Rendered:
    assert isinstance(response.body, bytes)
    skip = {"content-type", "content-length"}
    headers = tuple((k, v) for k, v in response.headers.items() if k.lower() not in skip)
    return Rendered(response.body, response.content_type, headers)
