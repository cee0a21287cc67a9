"""The component editor: every component with its status, changed one row at a time, and a
form to add a component. Viewers read; operators change (each change is written to the
component's history by the incidents service, as a change through the API is)."""

from __future__ import annotations

import re

from aiohttp import web

from failover.errors import Conflict, InvalidInput, NotFound
from failover.incidents.model import STATUSES
from failover.model import Role
from failover.web import session as sessions
from failover.web.incidents_view import actor, field_of, form_of, said, service
from failover.web.pages import _ctx, page, render

routes = web.RouteTableDef()
COMPONENT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")  # as failover.incidents.model's Slug


@routes.get("/ui/components")
@page(Role.VIEWER)
async def components(request: web.Request, session: sessions.Session) -> web.Response:
    return await _components(request, session)


async def _components(
    request: web.Request,
    session: sessions.Session,
    form: dict[str, str] | None = None,
    error: str | None = None,
    field: str | None = None,
    row: str | None = None,
    status: int = 200,
) -> web.Response:
    """The page; ``row`` is the component whose change failed (its message goes beside it)."""
    return render(
        request, "components.html", session, status=status, form=form or {}, error=error,
        field=field, row=row, statuses=STATUSES,
        components=await _ctx(request).store.list_components(),
        saved=request.query.get("saved", "")[:64],
    )  # fmt: skip


@routes.post("/ui/components/{name}")
@page(Role.OPERATOR, changes=True)
async def set_status(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    cid = request.match_info["name"]
    if not COMPONENT_ID.fullmatch(cid):  # no store is asked about a name no component has
        raise web.HTTPNotFound(text="There is no such component.")
    form = await form_of(request)
    try:
        await service(request).set_component(cid, {"status": form.get("status", "")}, actor(session))  # fmt: skip
    except NotFound:
        raise web.HTTPNotFound(text=f"There is no component {cid!r}.") from None
    except InvalidInput as exc:
        return await _components(request, session, None, said(exc), "status", cid, 422)
    raise web.HTTPSeeOther(f"/ui/components?saved={cid}#component-{cid}")


@routes.post("/ui/components")
@page(Role.OPERATOR, changes=True)
async def add(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    form = await form_of(request)
    payload = {k: form.get(k, "").strip() for k in ("id", "name")}
    for key in ("description", "group"):
        if form.get(key, "").strip():
            payload[key] = form[key].strip()
    try:
        made = await service(request).create_component(payload)
    except InvalidInput as exc:
        return await _components(request, session, form, said(exc), field_of(exc), None, 422)
    except Conflict:
        taken = f"A component with the id {payload['id']!r} exists already."
        return await _components(request, session, form, taken, "id", None, 409)
    raise web.HTTPSeeOther(f"/ui/components?saved={made.id}#component-{made.id}")
