"""The operator's incident pages: open an incident, post its updates, resolve it, publish a
draft a probe opened, and schedule maintenance.

Every handler calls ``failover.incidents.service`` (the code the REST API calls), and the
preview goes through the intake's own preview with the text the service would post, so what
the page shows and what is sent cannot drift apart. Bad input brings the form back, filled
in, with a short message beside the field at fault.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from failover.api.routes import path_id, read_json
from failover.api.views import message_json
from failover.errors import Conflict, InvalidInput, NotFound
from failover.incidents.model import (
    IMPACTS,
    INCIDENT_STATES,
    MAINTENANCE_IMPACT,
    STATUSES,
    is_final,
    states_of,
)
from failover.incidents.service import Incidents
from failover.incidents.templates import LABELS
from failover.incidents.templates import render as render_text
from failover.model import Role
from failover.store.status import Incident
from failover.web import session as sessions
from failover.web.pages import ZONES, _ctx, _when, page, render

routes = web.RouteTableDef()
RECENT = 20  # resolved incidents and completed maintenance listed under the active ones
ENDINGS = {
    "incident": "This incident has been resolved.",
    "maintenance": "Maintenance is complete.",
}


def service(request: web.Request) -> Incidents:
    ctx = _ctx(request)
    return Incidents(ctx.store, ctx.clock, ctx.intake(), ctx.config())


def actor(session: sessions.Session) -> str:
    return f"web:{session.token.name}"


async def form_of(request: web.Request) -> dict[str, str]:
    """The posted fields as text (files and the CSRF token left out)."""
    post = await request.post()
    return {k: v for k, v in post.items() if isinstance(v, str) and k != "csrf"}


def chosen_components(form: dict[str, str]) -> dict[str, str]:
    """``component.<id>`` fields with a status chosen (empty: not affected)."""
    return {
        k.removeprefix("component."): v.strip()
        for k, v in form.items()
        if k.startswith("component.") and v.strip()
    }


FIELDS = {
    "title": "Title", "body": "Text", "text": "Text", "impact": "Impact", "state": "State",
    "route": "Route", "scheduled_for": "Start", "scheduled_until": "End", "tz": "Time zone",
    "remind_before": "Reminder", "id": "Id", "name": "Name", "group": "Group",
    "description": "Description", "status": "Status", "components": "Components",
}  # fmt: skip


def said(exc: InvalidInput) -> str:
    """The error in a person's words: the field's label, then what is wrong with it."""
    head, _, cid = exc.field.partition(".")
    label = FIELDS.get(exc.field) or (
        f"Component {cid.split('.')[0][:64]}" if head == "components" else exc.field[:64]
    )
    detail = exc.detail.replace("scheduled_for", "the start").replace("scheduled_until", "the end")
    if detail.startswith("too short: at least 1 character"):
        detail = "please fill this in"
    return f"{label}: {detail}"


def field_of(exc: InvalidInput) -> str:
    """The form field to mark for an error the service names (its post is the ``body``)."""
    return "body" if exc.field == "text" else exc.field


def public_routes(request: web.Request) -> list[str]:
    return [r for r in _ctx(request).config().routes if not r.startswith("_")]


# -- the list ------------------------------------------------------------------------------


@routes.get("/ui/incidents")
@page(Role.VIEWER)
async def incidents(request: web.Request, session: sessions.Session) -> web.Response:
    store = _ctx(request).store
    return render(
        request, "incidents.html", session,
        active=await store.list_incidents("incident", active=True, include_drafts=True, limit=200),
        resolved=await store.list_incidents("incident", active=False, limit=RECENT),
        maintenance=await store.list_incidents("maintenance", active=True, limit=200),
        completed=await store.list_incidents("maintenance", active=False, limit=RECENT),
        names=await component_names(request),
    )  # fmt: skip


async def component_names(request: web.Request) -> dict[str, str]:
    return {c.id: c.name for c in await _ctx(request).store.list_components()}


# -- the composer ----------------------------------------------------------------------------


@routes.get("/ui/incidents/new")
@page(Role.PUBLISHER)
async def composer(request: web.Request, session: sessions.Session) -> web.Response:
    return await _composer(request, session, {})


async def _composer(
    request: web.Request,
    session: sessions.Session,
    form: dict[str, str],
    error: str | None = None,
    field: str | None = None,
    status: int = 200,
) -> web.Response:
    config = _ctx(request).config()
    return render(
        request, "incident_new.html", session, status=status, form=form, error=error,
        field=field, impacts=IMPACTS, states=INCIDENT_STATES[:-1], statuses=STATUSES,
        labels=LABELS, components=await _ctx(request).store.list_components(),
        routes=public_routes(request), channels=list(config.channels),
        default_route=config.incidents.route or config.default_route,
    )  # fmt: skip


@routes.post("/ui/incidents/new")
@page(Role.PUBLISHER, changes=True)
async def open_incident(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    form = await form_of(request)
    payload: dict[str, Any] = {k: form.get(k, "") for k in ("title", "body", "impact", "state")}
    payload["components"] = chosen_components(form)
    if form.get("route", "").strip():
        payload["route"] = form["route"]
    try:
        made = await service(request).open(payload, actor(session))
    except InvalidInput as exc:
        return await _composer(request, session, form, said(exc), field_of(exc), 422)
    raise web.HTTPSeeOther(f"/ui/incidents/{made.id}")


# -- one incident ----------------------------------------------------------------------------


@routes.get("/ui/incidents/{id:\\d+}")
@page(Role.VIEWER)
async def incident_page(request: web.Request, session: sessions.Session) -> web.Response:
    return await _incident(request, session, path_id(request))


async def _incident(
    request: web.Request,
    session: sessions.Session,
    incident_id: int,
    form: dict[str, str] | None = None,
    error: str | None = None,
    field: str | None = None,
    status: int = 200,
) -> web.Response:
    try:
        incident = await service(request).get(incident_id)
    except NotFound:
        raise web.HTTPNotFound(text=f"There is no incident {incident_id}.") from None
    ctx = _ctx(request)
    components = await ctx.store.list_components()
    return render(
        request, "incident.html", session, status=status, i=incident,
        timeline=await timeline(request, incident), form=form or {}, error=error,
        field=field, states=states_of(incident.kind), statuses=STATUSES, labels=LABELS,
        components=components, names={c.id: c.name for c in components},
        final=is_final(incident.state), ending=ENDINGS[incident.kind],
        channels=list(ctx.config().channels),
    )  # fmt: skip


async def timeline(request: web.Request, incident: Incident) -> list[dict[str, Any]]:
    """Each update (newest first) with its message and the message's delivery states."""
    store = _ctx(request).store
    entries: list[dict[str, Any]] = []
    for u in incident.updates:
        message = await store.message(u.message_id) if u.message_id is not None else None
        shown = None
        if message is not None:
            shown = message_json(message, await store.deliveries(message.id))
        entries.append({"u": u, "message": shown})
    return entries


@routes.post("/ui/incidents/{id:\\d+}")
@page(Role.PUBLISHER, changes=True)
async def post_update(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    incident_id = path_id(request)
    form = await form_of(request)
    payload: dict[str, Any] = {"state": form.get("state", ""), "body": form.get("body", "")}
    if form.get("with_components"):  # the form showed the components: send what it says
        payload["components"] = chosen_components(form)
    return await _advance(request, session, incident_id, form, payload)


@routes.post("/ui/incidents/{id:\\d+}/resolve")
@page(Role.PUBLISHER, changes=True)
async def resolve(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    incident_id = path_id(request)
    form = await form_of(request)
    incident = await _ctx(request).store.get_incident(incident_id)
    if incident is None:
        raise web.HTTPNotFound(text=f"There is no incident {incident_id}.")
    state = "completed" if incident.kind == "maintenance" else "resolved"
    body = form.get("body", "").strip() or ENDINGS[incident.kind]
    return await _advance(request, session, incident_id, {}, {"state": state, "body": body})


async def _advance(
    request: web.Request,
    session: sessions.Session,
    incident_id: int,
    form: dict[str, str],
    payload: dict[str, Any],
) -> web.StreamResponse:
    try:
        await service(request).update(incident_id, payload, actor(session))
    except NotFound:
        raise web.HTTPNotFound(text=f"There is no incident {incident_id}.") from None
    except InvalidInput as exc:
        return await _incident(request, session, incident_id, form, said(exc), field_of(exc), 422)
    except Conflict as exc:
        return await _incident(request, session, incident_id, form, str(exc), "state", 409)
    raise web.HTTPSeeOther(f"/ui/incidents/{incident_id}")


@routes.post("/ui/incidents/{id:\\d+}/publish")
@page(Role.PUBLISHER, changes=True)
async def publish(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    incident_id = path_id(request)
    try:
        await service(request).publish(incident_id, actor(session))
    except NotFound:
        raise web.HTTPNotFound(text=f"There is no incident {incident_id}.") from None
    except Conflict as exc:
        return await _incident(request, session, incident_id, None, str(exc), "publish", 409)
    raise web.HTTPSeeOther(f"/ui/incidents/{incident_id}")


# -- the preview -----------------------------------------------------------------------------


@routes.post("/ui/incidents/preview")
@page(Role.PUBLISHER, changes=True)
async def preview(request: web.Request, session: sessions.Session) -> web.Response:
    """The compose preview of the text an update would post (its state prefix included)."""
    try:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise InvalidInput("body", "must be a JSON object")
        text, route = await _preview_text(request, body)
        return web.json_response(_ctx(request).intake().preview({"text": text, "route": route}))
    except InvalidInput as exc:
        return web.json_response({"error": said(exc)}, status=422)


async def _preview_text(request: web.Request, body: dict[str, Any]) -> tuple[str, str | None]:
    def text(key: str) -> str:
        value = body.get(key)
        return value.strip() if isinstance(value, str) else ""

    config = _ctx(request).config()
    state = text("state")
    if state not in LABELS:
        raise InvalidInput("state", f"one of: {', '.join(LABELS)}")
    title, impact, route = text("title"), text("impact") or "minor", text("route") or None
    raw_id = body.get("incident")
    if raw_id is not None:
        found = await _ctx(request).store.get_incident(incident_number(raw_id))
        if found is None:
            raise InvalidInput("incident", "there is no such incident")
        title, impact, route = found.title, found.impact, found.route
    rendered = render_text(state, title, text("body"), impact, config.incidents.templates)
    return rendered, route or config.incidents.route or config.default_route


def incident_number(raw: object) -> int:
    """An incident's number from JSON (a number or digits), within the stores' range."""
    digits = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not (isinstance(digits, str) and digits.isascii() and digits.isdigit()):
        raise InvalidInput("incident", "must be an incident's number")
    if len(digits) > 18:
        raise InvalidInput("incident", "there is no such incident")
    return int(digits)


# -- maintenance -----------------------------------------------------------------------------


@routes.get("/ui/maintenance/new")
@page(Role.PUBLISHER)
async def maintenance_form(request: web.Request, session: sessions.Session) -> web.Response:
    return await _maintenance(request, session, {})


async def _maintenance(
    request: web.Request,
    session: sessions.Session,
    form: dict[str, str],
    error: str | None = None,
    field: str | None = None,
    status: int = 200,
) -> web.Response:
    config = _ctx(request).config()
    return render(
        request, "maintenance_new.html", session, status=status, form=form, error=error,
        field=field, components=await _ctx(request).store.list_components(), zones=ZONES,
        routes=public_routes(request), impact=MAINTENANCE_IMPACT,
        channels=list(config.channels),
        default_route=config.incidents.route or config.default_route,
    )  # fmt: skip


@routes.post("/ui/maintenance/new")
@page(Role.PUBLISHER, changes=True)
async def schedule(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    form = await form_of(request)
    try:
        made = await service(request).schedule(maintenance_payload(form), actor(session))
    except InvalidInput as exc:
        return await _maintenance(request, session, form, said(exc), field_of(exc), 422)
    raise web.HTTPSeeOther(f"/ui/incidents/{made.id}")


def maintenance_payload(form: dict[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = {"title": form.get("title", ""), "body": form.get("body", "")}
    payload["components"] = [k.removeprefix("held.") for k in form if k.startswith("held.")]
    for key in ("scheduled_for", "scheduled_until"):
        if (at := _when(form, key)) is not None:  # missing: the service says it is required
            payload[key] = at
    if form.get("remind_before", "").strip():
        payload["remind_before"] = form["remind_before"].strip()
    payload["auto_start"] = bool(form.get("auto_start"))
    payload["auto_complete"] = bool(form.get("auto_complete"))
    if form.get("route", "").strip():
        payload["route"] = form["route"].strip()
    return payload
