"""The public status page's routes (/status/...): HTML, the Statuspage-compatible JSON API
and the feeds, every one rendered from the store on request, so every daemon of a cluster
answers the same bytes; an ETag (hash of the body) lets readers and caches revalidate for
free (304). Images of old feed posts are still served from the feed channel's directory."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

from aiohttp import web

from failover.api.context import CONTEXT
from failover.api.public_headers import FEED_JSON, headers_for, page_headers
from failover.api.render_cache import RenderCache
from failover.statuspage import feeds, html, v2
from failover.statuspage.data import StatusData, as_of, load, past_incidents

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CACHE_CONTROL = "public, max-age=30"
RENDER_TTL = 2.0  # seconds a rendered page is reused (see render_cache)
RENDERS: web.AppKey[RenderCache] = web.AppKey("status_renders", RenderCache)
MAX_HISTORY_PAGE = 200  # bounds the rows one request may read


def add_status_page(app: web.Application) -> None:
    """Register the page's routes, its render cache and its ETag middleware on ``app``."""
    app[RENDERS] = RenderCache(RENDER_TTL, app[CONTEXT].clock.monotonic)
    app.middlewares.append(etag_middleware)
    app.router.add_get("/status/", _cached(_index))
    app.router.add_get("/status/index.html", _cached(_index))
    app.router.add_get("/status/history", _cached(_history))
    app.router.add_get("/status/incidents/{id}", _cached(_incident))
    app.router.add_get("/status/feed.atom", _cached(_atom))
    app.router.add_get("/status/feed.json", _cached(_json_feed))
    for name in v2.DOCUMENTS:
        app.router.add_get(f"/status/api/v2/{name}.json", _cached(_json_doc))
    app.router.add_get("/status/media/{path:.*}", _media)


def _cached(handler: Callable[[web.Request], Awaitable[web.Response]]) -> Handler:
    """``handler`` behind the render cache, per path (and history page) and per step of
    the uptime bars' clock, so a cached page never outlives its step."""

    async def cached(request: web.Request) -> web.StreamResponse:
        ctx = request.app[CONTEXT]
        page = request.query.get("page", "")[:8] if request.path == "/status/history" else ""
        key = f"{as_of(ctx.clock.now()).timestamp()} {request.path} {page}"
        return await request.app[RENDERS].get(key, lambda: handler(request))

    return cached


@web.middleware
async def etag_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every in-memory /status response gets an ETag and a Cache-Control; a reader that
    already has the same bytes gets a 304 without them."""
    response = await handler(request)
    if (
        not request.path.startswith("/status")
        or request.method not in ("GET", "HEAD")
        or response.status != 200
        or not isinstance(response, web.Response)
        or not isinstance(response.body, bytes)
    ):
        return response
    tag = '"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
    response.headers["ETag"] = tag
    response.headers.setdefault("Cache-Control", CACHE_CONTROL)
    if tag in _tags(request.headers.get("If-None-Match", "")):
        return web.Response(status=304, headers={
            "ETag": tag, "Cache-Control": response.headers["Cache-Control"]
        })  # fmt: skip
    return response


def _tags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()} | (
        {"*"} if header.strip() == "*" else set()
    )


async def _data(request: web.Request, history: bool = False) -> StatusData:
    ctx = request.app[CONTEXT]
    return await load(ctx.store, ctx.config(), ctx.clock.now(), history)


async def _page(render: Callable[[], bytes]) -> web.Response:
    """Render in a worker thread: a page with 90-day bars for many components takes a while,
    and the event loop keeps posting meanwhile."""

    def work() -> tuple[bytes, dict[str, str]]:
        body = render()
        return body, page_headers(body)

    body, headers = await asyncio.to_thread(work)
    return web.Response(body=body, content_type="text/html", charset="utf-8", headers=headers)


async def _index(request: web.Request) -> web.Response:
    data = await _data(request, history=True)
    return await _page(lambda: html.index_page(data))


async def _history(request: web.Request) -> web.Response:
    raw = request.query.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_HISTORY_PAGE:
        raise web.HTTPBadRequest(
            text=f"page: expected a whole number from 1 to {MAX_HISTORY_PAGE}, got {raw[:20]!r}"
        )
    page = int(raw)
    shown, more = await past_incidents(request.app[CONTEXT].store, page)
    if page > 1 and not shown:
        raise web.HTTPNotFound(text=f"history has no page {page}")
    data = await _data(request)
    return await _page(lambda: html.history_page(data, shown, page, more))


async def _incident(request: web.Request) -> web.Response:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 18:
        raise web.HTTPBadRequest(text=f"incident id: expected a number, got {raw[:20]!r}")
    incident = await request.app[CONTEXT].store.get_incident(int(raw))
    if incident is None or incident.draft:
        raise web.HTTPNotFound(text=f"no incident {raw}")
    data = await _data(request)
    return await _page(lambda: html.incident_page(data, incident))


async def _atom(request: web.Request) -> web.Response:
    data = await _data(request)
    return _public(await asyncio.to_thread(feeds.atom, data), "application/atom+xml")


async def _json_feed(request: web.Request) -> web.Response:
    return _public(feeds.json_feed(await _data(request)), FEED_JSON)


async def _json_doc(request: web.Request) -> web.Response:
    name = request.path.removeprefix("/status/api/v2/").removesuffix(".json")
    doc = v2.DOCUMENTS[name](await _data(request))
    response = _public(v2.dumps(doc), "application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"  # widgets read it from other sites
    return response


def _public(body: bytes, content_type: str) -> web.Response:
    return web.Response(body=body, content_type=content_type, charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})  # fmt: skip


async def _media(request: web.Request) -> web.StreamResponse:
    """Images of posts the feed channel published, from its directory."""
    root = request.app[CONTEXT].public_dir()
    if root is None:
        raise web.HTTPNotFound(text="no feed channel is configured")
    media = (root / "media").resolve()
    try:
        path = (media / request.match_info["path"]).resolve()
        found = media in path.parents and path.is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL...
        found = False
    if not found:
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers=headers_for(path))
