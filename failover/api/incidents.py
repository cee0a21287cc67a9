"""REST handlers for incidents, maintenance and components (/api/v1/incidents, …).

Publishers open and update incidents, viewers read; the work is done by
``failover.incidents.service``, which the web UI calls too.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from failover.api.auth import require
from failover.api.context import CONTEXT
from failover.api.routes import json_object, path_id
from failover.api.views import iso
from failover.errors import InvalidInput
from failover.incidents.model import INCIDENT_STATES, MAINTENANCE_STATES
from failover.incidents.service import Incidents
from failover.model import Role
from failover.store.status import Component, Incident, IncidentUpdate

routes = web.RouteTableDef()


def add_incident_routes(app: web.Application) -> None:
    app.add_routes(routes)


def _service(request: web.Request) -> Incidents:
    ctx = request.app[CONTEXT]
    return Incidents(ctx.store, ctx.clock, ctx.intake(), ctx.config())


@routes.get("/api/v1/incidents")
async def list_incidents(request: web.Request) -> web.Response:
    await require(request, Role.VIEWER)
    q = request.query
    kind = q.get("kind")
    if kind not in (None, "incident", "maintenance"):
        raise InvalidInput("kind", "must be incident or maintenance")
    active = _flag(q.get("active"))
    before = _number(q.get("before"), "before", 2**62)
    limit = _number(q.get("limit"), "limit", 500) or 50
    found = await request.app[CONTEXT].store.list_incidents(
        kind,
        active=active,
        before_id=before,
        limit=limit,
        include_drafts=True,
    )
    next_before = found[-1].id if len(found) == limit else None
    return web.json_response({"items": [incident_json(i) for i in found], "next_before": next_before})  # fmt: skip


@routes.post("/api/v1/incidents")
async def open_incident(request: web.Request) -> web.Response:
    token = await require(request, Role.PUBLISHER)
    made = await _service(request).open(await json_object(request), f"token:{token.name}")
    return _created(made)


@routes.get("/api/v1/incidents/{id:\\d+}")
async def show_incident(request: web.Request) -> web.Response:
    await require(request, Role.VIEWER)
    return web.json_response(incident_json(await _service(request).get(path_id(request))))


@routes.post("/api/v1/incidents/{id:\\d+}/updates")
async def add_update(request: web.Request) -> web.Response:
    token = await require(request, Role.PUBLISHER)
    body = await json_object(request)
    done = await _service(request).update(path_id(request), body, f"token:{token.name}")
    return web.json_response(incident_json(done), status=201)


@routes.post("/api/v1/incidents/{id:\\d+}/publish")
async def publish(request: web.Request) -> web.Response:
    token = await require(request, Role.PUBLISHER)
    done = await _service(request).publish(path_id(request), f"token:{token.name}")
    return web.json_response(incident_json(done))


@routes.post("/api/v1/maintenances")
async def schedule(request: web.Request) -> web.Response:
    token = await require(request, Role.PUBLISHER)
    made = await _service(request).schedule(await json_object(request), f"token:{token.name}")
    return _created(made)


@routes.get("/api/v1/components")
async def list_components(request: web.Request) -> web.Response:
    await require(request, Role.VIEWER)
    found = await request.app[CONTEXT].store.list_components()
    return web.json_response({"items": [component_json(c) for c in found]})


@routes.post("/api/v1/components")
async def create_component(request: web.Request) -> web.Response:
    await require(request, Role.OPERATOR)
    made = await _service(request).create_component(await json_object(request))
    return web.json_response(
        component_json(made), status=201, headers={"Location": f"/api/v1/components/{made.id}"}
    )


@routes.patch("/api/v1/components/{name}")
async def set_component(request: web.Request) -> web.Response:
    token = await require(request, Role.OPERATOR)  # as in the UI's component editor
    cid = request.match_info["name"][:64]
    done = await _service(request).set_component(cid, await json_object(request), token.name)
    return web.json_response(component_json(done))


def _created(made: Incident) -> web.Response:
    return web.json_response(
        incident_json(made), status=201, headers={"Location": f"/api/v1/incidents/{made.id}"}
    )


def _flag(raw: str | None) -> bool | None:
    if raw is None:
        return None
    if raw not in ("true", "false", "1", "0"):
        raise InvalidInput("active", "must be true or false")
    return raw in ("true", "1")


def _number(raw: str | None, name: str, hi: int) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 19 or not 1 <= int(raw) <= hi:
        raise InvalidInput(name, f"must be a whole number from 1 to {hi}")
    return int(raw)


def incident_json(i: Incident) -> dict[str, Any]:
    return {
        "id": i.id, "kind": i.kind, "title": i.title, "impact": i.impact, "state": i.state,
        "states": list(MAINTENANCE_STATES if i.kind == "maintenance" else INCIDENT_STATES),
        "route": i.route, "draft": i.draft, "thread_message_id": i.thread_message_id,
        "scheduled_for": iso(i.scheduled_for), "scheduled_until": iso(i.scheduled_until),
        "remind_before": i.remind_before, "reminded_at": iso(i.reminded_at),
        "auto_start": i.auto_start, "auto_complete": i.auto_complete,
        "created_by": i.created_by, "created_at": iso(i.created_at),
        "updated_at": iso(i.updated_at), "started_at": iso(i.started_at),
        "resolved_at": iso(i.resolved_at), "components": i.components,
        "updates": [update_json(u) for u in i.updates],
    }  # fmt: skip


def update_json(u: IncidentUpdate) -> dict[str, Any]:
    return {
        "id": u.id, "state": u.state, "body": u.body, "message_id": u.message_id,
        "created_by": u.created_by, "created_at": iso(u.created_at),
    }  # fmt: skip


def component_json(c: Component) -> dict[str, Any]:
    return {
        "id": c.id, "name": c.name, "description": c.description, "group": c.group_name,
        "position": c.position, "status": c.status, "probe": c.probe,
        "created_at": iso(c.created_at), "updated_at": iso(c.updated_at),
    }  # fmt: skip
