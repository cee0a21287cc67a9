"""The web UI's part for the daemon's own fediverse account: followers, follow requests held
for approval, delivery progress, and correcting or deleting a post on the fediverse."""

from __future__ import annotations

from aiohttp import web

from failover.activitypub import admin
from failover.api.routes import path_id
from failover.errors import Conflict, InvalidInput, NotFound
from failover.model import Role
from failover.web import session as sessions
from failover.web.pages import _ctx, page, render, routes


@routes.get("/ui/fediverse")
@page(Role.VIEWER)
async def fediverse(request: web.Request, session: sessions.Session) -> web.Response:
    ctx = _ctx(request)
    found = await admin.summary(ctx.store, ctx.channels(), lists=True)
    if found is None:
        raise web.HTTPNotFound(text="no activitypub channel is configured")
    return render(request, "fediverse.html", session, ap=found)


@routes.post("/ui/fediverse/requests")
@page(Role.OPERATOR, changes=True)
async def answer(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    ctx = _ctx(request)
    form = await request.post()
    actor, verdict = str(form.get("actor", "")), str(form.get("verdict", ""))
    if verdict not in ("approve", "reject"):
        raise web.HTTPBadRequest(text='verdict must be "approve" or "reject"')
    try:
        await admin.answer_follow(ctx.store, ctx.clock, ctx.channels(), actor,
                                  verdict == "approve", f"web:{session.token.name}")  # fmt: skip
    except NotFound as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    except Conflict as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    raise web.HTTPSeeOther("/ui/fediverse")


@routes.post("/ui/messages/{id:\\d+}/fediverse-update")
@page(Role.PUBLISHER, changes=True)
async def update_post(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    ctx = _ctx(request)
    message_id = path_id(request)
    form = await request.post()
    text, warning = str(form.get("text", "")), str(form.get("content_warning", "")).strip()
    try:
        await admin.correct(ctx.store, ctx.clock, ctx.channels(), message_id, text,
                            warning or None, f"web:{session.token.name}")  # fmt: skip
    except InvalidInput as exc:
        raise web.HTTPBadRequest(text=f"{exc.field}: {exc.detail}") from None
    except NotFound as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    except Conflict as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    raise web.HTTPSeeOther(f"/ui/messages/{message_id}")


@routes.post("/ui/messages/{id:\\d+}/fediverse-delete")
@page(Role.PUBLISHER, changes=True)
async def delete_post(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    ctx = _ctx(request)
    message_id = path_id(request)
    try:
        await admin.retract(ctx.store, ctx.clock, ctx.channels(), message_id,
                            f"web:{session.token.name}")  # fmt: skip
    except NotFound as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    except Conflict as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    raise web.HTTPSeeOther(f"/ui/messages/{message_id}")
