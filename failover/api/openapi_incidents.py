"""The OpenAPI part for incidents, maintenance and components, merged into the document by
``openapi_spec.build``. Request bodies come from the models the service validates with."""

from __future__ import annotations

from typing import Any

from failover.api.openapi_spec import (
    ID,
    INT,
    N_INT,
    N_STR,
    N_TIME,
    STR,
    TIME,
    _json,
    _model,
    _obj,
    _op,
    _problem,
    _q,
    _ref,
)  # fmt: skip
from failover.incidents.model import (
    IMPACTS,
    INCIDENT_STATES,
    MAINTENANCE_IMPACT,
    MAINTENANCE_STATES,
    STATUSES,
    ComponentIn,
    ComponentPatch,
    IncidentIn,
    MaintenanceIn,
    UpdateIn,
)
from failover.model import Role

BOOL = {"type": "boolean"}
STATUS = {"type": "string", "enum": list(STATUSES)}
STATE = {"type": "string", "enum": [*INCIDENT_STATES, *MAINTENANCE_STATES]}

SCHEMAS: dict[str, Any] = {
    "IncidentIn": _model(IncidentIn),
    "UpdateIn": _model(UpdateIn),
    "MaintenanceIn": _model(MaintenanceIn),
    "ComponentIn": _model(ComponentIn),
    "ComponentPatch": _model(ComponentPatch),
    "IncidentUpdate": _obj({"id": INT, "state": STATE, "body": STR, "message_id": N_INT,
                            "created_by": STR, "created_at": TIME}),
    "Incident": _obj({
        "id": INT, "kind": {"type": "string", "enum": ["incident", "maintenance"]},
        "title": STR, "impact": {"type": "string", "enum": [*IMPACTS, MAINTENANCE_IMPACT]},
        "state": STATE, "states": {"type": "array", "items": STATE}, "route": STR,
        "draft": BOOL, "thread_message_id": N_INT, "scheduled_for": N_TIME,
        "scheduled_until": N_TIME, "remind_before": {"type": ["number", "null"]},
        "reminded_at": N_TIME, "auto_start": BOOL, "auto_complete": BOOL, "created_by": STR,
        "created_at": TIME, "updated_at": TIME, "started_at": N_TIME, "resolved_at": N_TIME,
        "components": {"type": "object", "additionalProperties": STATUS},
        "updates": {"type": "array", "items": _ref("IncidentUpdate")},
    }),
    "IncidentList": _obj({"items": {"type": "array", "items": _ref("Incident")},
                          "next_before": N_INT}),
    "Component": _obj({"id": STR, "name": STR, "description": N_STR, "group": N_STR,
                       "position": INT, "status": STATUS, "probe": N_STR,
                       "created_at": TIME, "updated_at": TIME}),
    "ComponentList": _obj({"items": {"type": "array", "items": _ref("Component")}}),
}  # fmt: skip


def paths() -> dict[str, Any]:
    not_found = {"404": _problem("no such incident or component")}
    conflict = {"409": _problem("the incident's state does not allow this (e.g. resolved)")}
    cid = {"name": "name", "in": "path", "required": True,
           "schema": {"type": "string", "minLength": 1, "maxLength": 64}}  # fmt: skip
    return {
        "/api/v1/incidents": {
            "get": _op("incidents and maintenance, newest first (drafts included)",
                       {"200": {"description": "a page", **_json("IncidentList")}}, Role.VIEWER,
                       params=[
                           _q("kind", {"type": "string", "enum": ["incident", "maintenance"]}, "only this kind"),
                           _q("active", {"type": "string", "enum": ["true", "false"]}, "only active (true) or ended (false)"),
                           _q("before", {"type": "integer", "minimum": 1}, "ids below this (next_before)"),
                           _q("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size"),
                       ], errors={"422": _problem("invalid query")}),
            "post": _op("open an incident: its first update is posted on its route",
                        {"201": {"description": "opened", **_json("Incident")}},
                        Role.PUBLISHER, body="IncidentIn"),
        },
        "/api/v1/incidents/{id}": {
            "get": _op("an incident with its updates, newest first",
                       {"200": {"description": "the incident", **_json("Incident")}},
                       Role.VIEWER, params=[ID], errors=not_found),
        },
        "/api/v1/incidents/{id}/updates": {
            "post": _op("post an update, threaded after the first post; resolved/completed ends it",
                        {"201": {"description": "the incident", **_json("Incident")}},
                        Role.PUBLISHER, body="UpdateIn", params=[ID],
                        errors={**not_found, **conflict}),
        },
        "/api/v1/incidents/{id}/publish": {
            "post": _op("confirm a draft incident (opened by a probe): its first update is posted",
                        {"200": {"description": "the incident", **_json("Incident")}},
                        Role.PUBLISHER, params=[ID], errors={**not_found, **conflict}),
        },
        "/api/v1/maintenances": {
            "post": _op("schedule maintenance; its reminder, start and end are posted as updates",
                        {"201": {"description": "scheduled", **_json("Incident")}},
                        Role.PUBLISHER, body="MaintenanceIn"),
        },
        "/api/v1/components": {
            "get": _op("the company's components and their status",
                       {"200": {"description": "components", **_json("ComponentList")}}, Role.VIEWER),
            "post": _op("add a component",
                        {"201": {"description": "added", **_json("Component")}},
                        Role.OPERATOR, body="ComponentIn", errors={"409": _problem("the id is taken")}),
        },
        "/api/v1/components/{name}": {
            "patch": _op("set a component's status by hand",
                         {"200": {"description": "the component", **_json("Component")}},
                         Role.PUBLISHER, body="ComponentPatch", params=[cid], errors=not_found),
        },
    }  # fmt: skip
