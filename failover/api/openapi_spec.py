"""Builds the OpenAPI 3.1 description shipped as ``openapi.json``.

Request bodies come from the same pydantic models the intake validates with, so the
document cannot drift from what the API accepts; a test compares the shipped file with this
build. Regenerate with ``python -m failover.api.openapi_spec > failover/api/openapi.json``.
"""

from __future__ import annotations

import json
from typing import Any

from failover import __version__
from failover.intake import MAX_ID, MessageEdit, MessageIn, PreviewIn
from failover.model import DeliveryState, Forced, Health, MessageState, Role

JSON = "application/json"
PROBLEM = "application/problem+json"


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema["type"]
    return {**schema, "type": [kind, "null"] if isinstance(kind, str) else [*kind, "null"]}


STR = {"type": "string"}
INT = {"type": "integer"}
TIME = {"type": "string", "format": "date-time"}
N_STR, N_INT, N_TIME = _nullable(STR), _nullable(INT), _nullable(TIME)


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required or list(props)}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _model(model: Any) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return schema


SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details",
        "properties": {
            "type": STR, "title": STR, "status": INT, "detail": STR, "field": STR,
            "errors": {"type": "array", "items": _obj({"field": STR, "detail": STR})},
        },
        "required": ["type", "title", "status"],
    },
    "ImageIn": _model(MessageIn.model_fields["images"].annotation.__args__[0]),  # type: ignore[union-attr]
    "MessageIn": _model(MessageIn),
    "MessageEdit": _model(MessageEdit),
    "PreviewIn": _model(PreviewIn),
    "Image": _obj({"sha256": STR, "content_type": STR, "alt": STR, "size": INT}),
    "Attempt": _obj({"number": INT, "at": TIME, "outcome": STR, "error": N_STR, "status": N_INT}),
    "Delivery": _obj(
        {
            "id": INT, "channel": STR, "tier": INT,
            "state": {"type": "string", "enum": [s.value for s in DeliveryState]},
            "attempts": INT, "next_attempt_at": N_TIME, "last_attempt_at": N_TIME,
            "last_error": N_STR, "remote_id": N_STR, "url": N_STR, "uncertain": {"type": "boolean"},
            "parts": N_INT, "progress": {"type": ["object", "null"]},
            "history": {"type": "array", "items": _ref("Attempt")},
        },
        ["id", "channel", "tier", "state", "attempts", "uncertain"],
    ),
    "Message": _obj(
        {
            "id": INT, "state": {"type": "string", "enum": [s.value for s in MessageState]},
            "text": STR, "title": N_STR, "link": N_STR, "content_warning": N_STR,
            "language": N_STR, "overrides": {"type": "object", "additionalProperties": STR},
            "images": {"type": "array", "items": _ref("Image")}, "route": STR,
            "created_by": STR, "created_at": TIME, "scheduled_at": N_TIME, "expires_at": N_TIME,
            "cancelled_at": N_TIME, "thread": N_INT, "idempotency_key": N_STR,
            "deliveries": {"type": "array", "items": _ref("Delivery")},
        }
    ),
    "MessageList": _obj(
        {"items": {"type": "array", "items": _ref("Message")}, "next_before": N_INT}
    ),
    "Channel": _obj(
        {
            "name": STR, "display_name": STR, "type": STR, "available": {"type": "boolean"},
            "problem": N_STR,
            "health": {"type": "string", "enum": [h.value for h in Health]},
            "observed": {"type": "string", "enum": [h.value for h in Health]},
            "forced": {"type": "string", "enum": [f.value for f in Forced]},
            "forced_by": N_STR, "since": N_TIME, "reason": N_STR, "concurrency": INT,
        }
    ),
    "ChannelList": _obj({"items": {"type": "array", "items": _ref("Channel")}}),
    "Retraction": _obj(
        {
            "message_id": INT, "stopped": {"type": "array", "items": STR},
            "channels": {"type": "array", "items": _obj(
                {
                    "channel": STR, "detail": STR, "url": N_STR,
                    "outcome": {"type": "string", "enum": ["retracted", "failed", "cannot"]},
                },
            )},
        }
    ),
    "Force": _obj(
        {
            "state": {"type": "string", "enum": [f.value for f in Forced]},
            "drill": {
                "type": ["string", "null"], "enum": ["internal", "public", None],
                "description": "a drill: its announcements go to operators (internal) or out "
                "as usual (public), marked as a drill in events",
            },
            "message_id": {
                "type": ["integer", "null"], "minimum": 1, "maximum": 2**62 - 1,
                "description": "the drill's test message: the force event is on its timeline",
            },
        },
        required=["state"],
    ),
    "Event": _obj(
        {
            "id": INT, "at": TIME, "kind": STR, "actor": N_STR, "channel": N_STR,
            "message_id": N_INT, "delivery_id": N_INT, "detail": {"type": "object"},
        }
    ),
    "EventList": _obj({"items": {"type": "array", "items": _ref("Event")}}),
    "Token": _obj(
        {
            "id": INT, "name": STR, "role": {"type": "string", "enum": [r.label for r in Role]},
            "created_at": TIME, "created_by": N_STR, "revoked_at": N_TIME, "last_used_at": N_TIME,
        }
    ),
    "TokenList": _obj({"items": {"type": "array", "items": _ref("Token")}}),
    "TokenIn": {
        **_obj({"name": {"type": "string", "minLength": 1, "maxLength": 100},
                "role": {"type": "string", "enum": [r.label for r in Role]}}),
        "additionalProperties": False,
    },
    "Session": _obj(
        {
            "id": INT, "token_id": INT, "token_name": STR,
            "role": {"type": "string", "enum": [r.label for r in Role]},
            "created_at": TIME, "expires_at": TIME, "last_seen_at": N_TIME, "client": N_STR,
        }
    ),
    "SessionList": _obj({"items": {"type": "array", "items": _ref("Session")}}),
    "Subscriber": _obj(
        {
            "id": INT, "kind": {"type": "string", "enum": ["email", "webhook"]},
            "address": STR,
            "state": {"type": "string",
                      "enum": ["pending", "confirmed", "suppressed", "unsubscribed"]},
            "components": {"type": "array", "items": STR}, "contact_email": N_STR,
            "failures": INT, "last_error": N_STR, "created_at": TIME, "confirmed_at": N_TIME,
            "updated_at": TIME,
            "retries_pending": {"type": "integer", "description": "a webhook's missed "
                                "updates still to be sent again (given up: an event "
                                "subscriber.hook_gave_up)"},
        }
    ),
    "SubscriberList": _obj({
        "items": {"type": "array", "items": _ref("Subscriber")},
        "counts": {"type": "object", "description": "kind -> state -> how many",
                   "additionalProperties": {"type": "object",
                                            "additionalProperties": INT}},
    }),
    "WebhookSubscriberIn": {
        **_obj({"url": {"type": "string", "format": "uri", "maxLength": 2000},
                "secret": {"type": "string", "minLength": 16, "maxLength": 200},
                "contact_email": {"type": "string", "format": "email"},
                "components": {"type": "array", "items": STR}}, ["url"]),
        "additionalProperties": False,
    },
    "WebhookSubscriberCreated": {
        "allOf": [_ref("Subscriber"),
                  _obj({"secret": {"type": "string", "description": "shown once"}})],
    },
    "SubscriberImport": _obj({"imported": INT, "confirmed": INT, "invited": INT, "skipped": INT}),
    "TokenCreated": {
        "allOf": [_ref("Token"), _obj({"token": {"type": "string", "description": "shown once"}})]
    },
    "Preview": _obj(
        {
            "route": STR, "mode": STR, "fit": STR,
            "channels": {"type": "array", "items": _obj(
                {
                    "channel": STR, "tier": INT, "type": N_STR, "unavailable": N_STR,
                    "verdict": STR, "rule": N_STR, "limit": N_INT, "length": INT,
                    "posts": {"type": "array", "items": _obj({"text": STR, "length": INT})},
                },
                ["channel", "tier", "verdict", "posts"],
            )},
        }
    ),
    "Status": _obj(
        {
            "channels": {"type": "array", "items": _ref("Channel")},
            "queue": _obj({"pending": INT, "due": INT, "sending": INT,
                           "oldest_due_age_s": {"type": ["number", "null"]}}),
            "default_route": STR,
            "cluster": {"type": "array", "items": _obj(
                {"node": STR, "leads": {"type": "boolean"}, "since": N_TIME, "seen": N_TIME},
            )},
            "routes": {"type": "object"},
        }
    ),
}  # fmt: skip


def _json(schema: str) -> dict[str, Any]:
    return {"content": {JSON: {"schema": _ref(schema)}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": _ref("Problem")}}}


AUTH_ERRORS = {
    "401": _problem("no token, or an unknown or revoked one"),
    "403": _problem("the token's role is too weak"),
    "429": _problem("too many failed authentications from this address; see Retry-After"),
}
BODY_ERRORS = {
    "413": _problem("the request body is larger than api.max_body"),
    "422": _problem("invalid input; `field` names what is wrong"),
}
ID = {"name": "id", "in": "path", "required": True,
      "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}  # fmt: skip


def _op(
    summary: str,
    ok: dict[str, Any],
    role: Role | None,
    *,
    body: str | None = None,
    params: list[dict[str, Any]] | None = None,
    errors: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {**ok}}
    if role is None:
        op["security"] = []
    else:
        op["description"] = f"Needs the **{role.label}** role or higher."
        op["responses"].update(AUTH_ERRORS)
    if body:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": _ref(body)}}}
        op["responses"].update(BODY_ERRORS)
    if params:
        op["parameters"] = params
    op["responses"].update(errors or {})
    op["responses"]["503"] = _problem("the store cannot be reached")
    return op


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


NOT_FOUND = {"404": _problem("no such object")}
CONFLICT = {"409": _problem("the request conflicts with the object's state")}


def build() -> dict[str, Any]:
    from failover.api import openapi_incidents  # it builds on the helpers above

    access = _access_paths()
    # The shipped document lists ending a session after the subscribers; kept so.
    session_end = {"/api/v1/sessions/{id}": access.pop("/api/v1/sessions/{id}")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "failover",
            "version": __version__,
            "description": "Accept, schedule and watch messages that failover routes to the "
            "primary platform or, when it is down, to the fallback channels.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": {**SCHEMAS, **openapi_incidents.SCHEMAS},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            **_probe_paths(),
            **_message_paths(),
            **_channel_paths(),
            **access,
            **_subscriber_paths(),
            **session_end,
            **openapi_incidents.paths(),
        },
    }


def _probe_paths() -> dict[str, Any]:
    """Liveness, readiness and this document: no token needed."""
    return {
        "/healthz": {"get": _op("liveness", {"200": {"description": "alive"}}, None)},
        "/readyz": {"get": _op("readiness", {"200": {"description": "ready"}}, None)},
        "/api/v1/openapi.json": {
            "get": _op("this document", {"200": {"description": "OpenAPI 3.1"}}, None)
        },
    }


def _message_paths() -> dict[str, Any]:
    """Accept, list, edit, cancel, retract and preview messages."""
    return {
        "/api/v1/messages": {
            "post": {
                **_op("accept a message", {"200": {"description": "an idempotent replay",
                                                   **_json("Message")},
                                           "201": {"description": "accepted", **_json("Message")}},
                      Role.PUBLISHER, body="MessageIn", errors=CONFLICT),
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                "schema": {"type": "string", "minLength": 1, "maxLength": 200}}],
            },
            "get": _op("list messages, newest first", {"200": {"description": "a page",
                                                               **_json("MessageList")}},
                       Role.VIEWER, params=[
                           _q("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size"),
                           _q("before", {"type": "integer", "minimum": 1}, "ids below this (next_before)"),
                           _q("route", STR, "only this route"),
                           _q("state", {"type": "string", "enum": [s.value for s in MessageState]}, "only this state"),
                       ], errors={"422": _problem("invalid query")}),
        },
        "/api/v1/messages/{id}": {
            "get": _op("a message with its deliveries and attempts",
                       {"200": {"description": "the message", **_json("Message")}},
                       Role.VIEWER, params=[ID], errors=NOT_FOUND),
            "patch": _op("edit a message none of whose deliveries has started",
                         {"200": {"description": "edited", **_json("Message")}},
                         Role.PUBLISHER, body="MessageEdit", params=[ID],
                         errors={**NOT_FOUND, **CONFLICT}),
        },
        "/api/v1/messages/{id}/cancel": {
            "post": _op("cancel what has not been sent",
                        {"200": {"description": "cancelled", **_json("Message")}},
                        Role.PUBLISHER, params=[ID], errors={**NOT_FOUND, **CONFLICT}),
        },
        "/api/v1/messages/{id}/retract": {
            "post": _op("take a published message down from every channel that can delete "
                        "it (and stop what is pending); email and webhooks cannot unsend",
                        {"200": {"description": "per channel", **_json("Retraction")}},
                        Role.PUBLISHER, params=[ID], errors=NOT_FOUND),
        },
        "/api/v1/preview": {
            "post": _op("how a text would be fitted on each channel of a route",
                        {"200": {"description": "per channel", **_json("Preview")}},
                        Role.VIEWER, body="PreviewIn"),
        },
    }  # fmt: skip


def _channel_paths() -> dict[str, Any]:
    """Channels and their forcing, the timeline, and the status overview."""
    return {
        "/api/v1/channels": {
            "get": _op("channels with health and why",
                       {"200": {"description": "channels", **_json("ChannelList")}}, Role.VIEWER),
        },
        "/api/v1/channels/{name}/force": {
            "post": _op("force a channel down or up, or give it back to the probes",
                        {"200": {"description": "the channel", **_json("Channel")}},
                        Role.OPERATOR, body="Force",
                        params=[{"name": "name", "in": "path", "required": True, "schema": STR}],
                        errors=NOT_FOUND),
        },
        "/api/v1/events": {
            "get": _op("the timeline, newest first",
                       {"200": {"description": "events", **_json("EventList")}}, Role.VIEWER,
                       params=[
                           _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "how many"),
                           _q("channel", STR, "only this channel"),
                           _q("message_id", {"type": "integer", "minimum": 1}, "only this message"),
                           _q("since", TIME, "from this time (with a zone)"),
                           _q("until", TIME, "up to this time (with a zone)"),
                       ], errors={"422": _problem("invalid query")}),
        },
        "/api/v1/status": {
            "get": _op("channels, queue, routes and the daemons sharing the store",
                       {"200": {"description": "status", **_json("Status")}}, Role.VIEWER),
        },
    }  # fmt: skip


def _access_paths() -> dict[str, Any]:
    """API tokens and web sessions: who may use the API (admins only)."""
    return {
        "/api/v1/tokens": {
            "get": _op("API tokens (never their secrets or hashes)",
                       {"200": {"description": "tokens", **_json("TokenList")}}, Role.ADMIN),
            "post": _op("create a token; its secret is in this response only",
                        {"201": {"description": "created", **_json("TokenCreated")}},
                        Role.ADMIN, body="TokenIn"),
        },
        "/api/v1/tokens/{id}": {
            "delete": _op("revoke a token (its web sessions end too)",
                          {"204": {"description": "revoked"}}, Role.ADMIN, params=[ID],
                          errors=NOT_FOUND),
        },
        "/api/v1/sessions": {
            "get": _op("live web sessions (never their secrets or hashes)",
                       {"200": {"description": "sessions", **_json("SessionList")}}, Role.ADMIN),
        },
        "/api/v1/sessions/{id}": {
            "delete": _op("end one web session at once, on every daemon",
                          {"204": {"description": "ended"}}, Role.ADMIN, params=[ID],
                          errors=NOT_FOUND),
        },
    }  # fmt: skip


def _subscriber_paths() -> dict[str, Any]:
    """Status page subscribers: list, add a webhook, export, import, erase."""
    return {
        "/api/v1/subscribers": {
            "get": _op("status page subscribers (never their secrets, tokens or "
                       "unsubscribe keys) and their counts by kind and state",
                       {"200": {"description": "subscribers", **_json("SubscriberList")}},
                       Role.ADMIN, params=[
                           _q("kind", {"type": "string", "enum": ["email", "webhook"]}, "only this kind"),
                           _q("state", {"type": "string", "enum": ["pending", "confirmed", "suppressed", "unsubscribed"]}, "only this state"),
                           _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "page size (default 100)"),
                           _q("offset", {"type": "integer", "minimum": 0, "maximum": 10_000_000}, "rows to skip"),
                       ], errors={"422": _problem("invalid query")}),
            "post": _op("add a webhook subscriber; its signing secret is in this "
                        "response only", {"201": {"description": "created",
                                                  **_json("WebhookSubscriberCreated")}},
                        Role.ADMIN, body="WebhookSubscriberIn", errors=CONFLICT),
        },
        "/api/v1/subscribers.csv": {
            "get": _op("every subscriber as CSV (kind, address, state, components, "
                       "contact_email, created_at, confirmed_at)",
                       {"200": {"description": "CSV",
                                "content": {"text/csv": {"schema": STR}}}}, Role.ADMIN),
        },
        "/api/v1/subscribers/import": {
            "post": {
                **_op("import email subscribers from CSV (the export's columns; address "
                      "required). Rows marked confirmed stay confirmed, pending ones get "
                      "a confirmation mail; known addresses are skipped; a bad line "
                      "imports nothing (422 names it)",
                      {"200": {"description": "counts", **_json("SubscriberImport")}},
                      Role.ADMIN, errors=BODY_ERRORS),
                "requestBody": {"required": True,
                                "content": {"text/csv": {"schema": STR}}},
            },
        },
        "/api/v1/subscribers/{id}": {
            "delete": _op("erase a subscriber on request: the row is deleted",
                          {"204": {"description": "erased"}}, Role.ADMIN, params=[ID],
                          errors=NOT_FOUND),
        },
    }  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(build(), indent=1))
