"""The web UI's page for status page subscribers: counts, the list, erasure, CSV export.
Admin only, as in the API: the rows are people's addresses."""

from __future__ import annotations

from aiohttp import web

from failover.api.routes import path_id
from failover.model import Role
from failover.store.subscribers import STATES
from failover.subscribers import csv_io
from failover.web import session as sessions
from failover.web.pages import _ctx, page, render, routes

PAGE = 200


@routes.get("/ui/subscribers")
@page(Role.ADMIN)
async def subscribers(request: web.Request, session: sessions.Session) -> web.Response:
    store = _ctx(request).store
    state = request.query.get("state")
    if state not in (None, *STATES):
        raise web.HTTPBadRequest(text=f"state must be one of {', '.join(STATES)}")
    rows = await store.sub_list(None, state, PAGE, 0)
    return render(request, "subscribers.html", session, rows=rows,
                  counts=await store.sub_counts(), state=state, page=PAGE,
                  retries=await store.hook_retry_counts())  # fmt: skip


@routes.get("/ui/subscribers.csv")
@page(Role.ADMIN)
async def export(request: web.Request, session: sessions.Session) -> web.Response:
    rows = await _ctx(request).store.sub_list(None, None, 1_000_000, 0)
    return web.Response(
        text=csv_io.export(rows), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="subscribers.csv"',
                 "Cache-Control": "no-store"},
    )  # fmt: skip


@routes.post("/ui/subscribers/{id:\\d+}/delete")
@page(Role.ADMIN, changes=True)
async def erase(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    if not await _ctx(request).store.sub_delete(path_id(request)):
        raise web.HTTPNotFound(text="no such subscriber (already erased?)")
    raise web.HTTPSeeOther("/ui/subscribers")
