"""The public page's render cache: one render per path per ttl however many readers come at
once, nothing kept but 200s, and a reader never served a page older than the ttl."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from failover.api.render_cache import RenderCache


class Renders:
    def __init__(self, status: int = 200) -> None:
        self.count = 0
        self.status = status
        self.gate = asyncio.Event()

    async def __call__(self) -> web.Response:
        self.count += 1
        await self.gate.wait()
        return web.Response(body=f"render {self.count}".encode(), status=self.status,
                            content_type="text/html", headers={"X-Test": "1"})  # fmt: skip


async def test_concurrent_readers_share_one_render_and_the_ttl_bounds_its_age() -> None:
    clock = [0.0]
    cache, render = RenderCache(2.0, lambda: clock[0]), Renders()
    readers = [asyncio.create_task(cache.get("/status/", render)) for _ in range(50)]
    await asyncio.sleep(0)
    render.gate.set()
    bodies = {(await r).body for r in readers}
    assert render.count == 1 and bodies == {b"render 1"}
    hit = await cache.get("/status/", render)
    assert hit.body == b"render 1" and hit.headers["X-Test"] == "1"
    clock[0] = 2.0  # stale now
    assert (await cache.get("/status/", render)).body == b"render 2"


async def test_only_successes_are_kept_and_errors_reach_every_waiter() -> None:
    cache, missing = RenderCache(2.0, lambda: 0.0), Renders(status=404)
    missing.gate.set()
    await cache.get("/status/incidents/9", missing)
    await cache.get("/status/incidents/9", missing)
    assert missing.count == 2

    async def broken() -> web.Response:
        await asyncio.sleep(0.01)
        raise web.HTTPBadRequest(text="page: expected a number")

    readers = [asyncio.create_task(cache.get("/status/history", broken)) for _ in range(3)]
    for r in readers:
        with pytest.raises(web.HTTPBadRequest):
            await r


async def test_the_cache_stays_bounded() -> None:
    clock = [0.0]
    cache, render = RenderCache(2.0, lambda: clock[0], size=8), Renders()
    render.gate.set()
    for n in range(100):
        clock[0] = n * 0.001
        await cache.get(f"/status/incidents/{n}", render)
    assert len(cache._done) <= 8
