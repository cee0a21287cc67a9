"""REST handlers of /api/v1 and the liveness/readiness endpoints."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from failover import tokens
from failover.api.auth import require
from failover.api.context import CONTEXT, ApiContext
from failover.api.problems import invalid, problem
from failover.api.views import (
    channel_json,
    event_json,
    iso,
    message_json,
    queue_json,
    session_json,
    token_json,
)
from failover.errors import InvalidInput, NotFound
from failover.intake import MAX_ID
from failover.model import Forced, Role
from failover.retract import Retractor

routes = web.RouteTableDef()
log = logging.getLogger("failover.api")
OPENAPI = Path(__file__).with_name("openapi.json")


def _ctx(request: web.Request) -> ApiContext:
    return request.app[CONTEXT]


def _int(
    request: web.Request, name: str, default: int | None, lo: int = 1, hi: int = 1000
) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)  # thousands of digits: ValueError too
    except ValueError:
        raise InvalidInput(name, "must be an integer") from None
    if not lo <= value <= hi:
        raise InvalidInput(name, f"must be between {lo} and {hi}")
    return value


def _time(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(name, "must be an ISO 8601 time, e.g. 2026-01-31T09:00:00Z") from None
    if value.tzinfo is None:
        raise InvalidInput(name, "must include a time zone (Z or +01:00)")
    return value


def path_id(request: web.Request) -> int:
    """The ``{id}`` of the path; one beyond the stores' integer range names nothing (404)."""
    raw = request.match_info["id"]
    if len(raw) > 19 or int(raw) > MAX_ID:
        raise NotFound(f"no object {raw[:24]}{'…' if len(raw) > 24 else ''}")
    return int(raw)


async def read_json(request: web.Request) -> Any:
    """The body as JSON; whatever it holds, a 4xx names what is wrong, never a 500."""
    try:
        text = await request.text()
    except (UnicodeDecodeError, LookupError):
        raise InvalidInput("body", f"is not text in charset {request.charset!r}") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise InvalidInput("body", "is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and numbers past int's digit limit
        raise InvalidInput("body", f"is not valid JSON ({str(exc)[:80]})") from None


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's body as a JSON object, or a 4xx naming what is wrong with it."""
    if request.content_type != "application/json":
        raise InvalidInput("body", "send JSON with Content-Type: application/json")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be a JSON object")
    return body


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready or not, and why in a few words. Anyone may ask (a load balancer has no token,
    and the tokens live in the store that may be down), so the driver's own words (hosts,
    users, databases) go to the log, once per change, never into the answer."""
    global _last_not_ready
    why = await _ctx(request).ready()
    if why != _last_not_ready and why is not None:
        log.warning("not ready: %s", why)
    _last_not_ready = why
    if why is None:
        return web.json_response({"status": "ready"})
    return web.json_response({"status": "not ready", "reason": why.split(":", 1)[0]}, status=503)


_last_not_ready: str | None = None


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus scrape endpoint: no secrets, no message content; no token needed."""
    body = await _ctx(request).metrics()
    return web.Response(
        body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
    )


@routes.post("/api/v1/messages")
async def create_message(request: web.Request) -> web.Response:
    token = await require(request, Role.PUBLISHER)
    body = await json_object(request)
    ctx = _ctx(request)
    message, created, deliveries = await ctx.intake().submit(
        body,
        actor=f"token:{token.name}",
        idempotency_key=request.headers.get("Idempotency-Key"),
        scope=f"token:{token.id}",
        # Operators may write to their own alerts route: a drill's test message goes there.
        internal=token.role >= Role.OPERATOR,
    )
    if not created:  # a replay answers with the deliveries as they are now
        deliveries = await ctx.store.deliveries(message.id)
    return web.json_response(
        message_json(message, deliveries),
        status=201 if created else 200,
        headers={"Location": f"/api/v1/messages/{message.id}"},
    )


@routes.get("/api/v1/messages")
async def list_messages(request: web.Request) -> web.Response:
    await require(request, Role.VIEWER)
    ctx = _ctx(request)
    limit = _int(request, "limit", 50, hi=500) or 50
    before = _int(request, "before", None, hi=2**62)
    messages = await ctx.store.messages(
        limit=limit, before=before, route=request.query.get("route")
    )
    items = [message_json(m, await ctx.store.deliveries(m.id)) for m in messages]
    state = request.query.get("state")
    if state:
        items = [i for i in items if i["state"] == state]
    next_before = messages[-1].id if len(messages) == limit else None
    return web.json_response({"items": items, "next_before": next_before})


@routes.get("/api/v1/messages/{id:\\d+}")
async def show_message(request: web.Request) -> web.Response:
    await require(request, Role.VIEWER)
    ctx = _ctx(request)
    message_id = path_id(request)
    message = await ctx.store.message(message_id)
    if message is None:
        return problem(404, "Not found", f"no message {message_id}")
    deliveries = await ctx.store.deliveries(message_id)
    body = message_json(message, deliveries)
    for d, dj in zip(deliveries, body["deliveries"], strict=True):
        dj["history"] = [
            {
                "number": a.number,
                "at": a.started_at.isoformat(),
                "outcome": a.outcome,
                "error": a.error,
                "status": a.status,
            }
            for a in await ctx.store.attempts(d.id)
        ]
    return web.json_response(body)


@routes.post("/api/v1/messages/{id:\\d+}/cancel")
async def cancel_message(request: web.Request) -> web.Response:
    token = await require(request, Role.PUBLISHER)
    ctx = _ctx(request)
    message = await ctx.intake().cancel(path_id(request), f"token:{token.name}")
    return web.json_response(message_json(message, await ctx.store.deliveries(message.id)))


@routes.post("/api/v1/messages/{id:\\d+}/retract")
async def retract_message(request: web.Request) -> web.Response:
    token = await require(request, Role.PUBLISHER)
    ctx = _ctx(request)
    retractor = Retractor(ctx.store, ctx.clock, ctx.channels, ctx.intake().cancel)
    result = await retractor.retract(path_id(request), f"token:{token.name}")
    return web.json_response(result)


@routes.patch("/api/v1/messages/{id:\\d+}")
async def edit_message(request: web.Request) -> web.Response:
    token = await require(request, Role.PUBLISHER)
    ctx = _ctx(request)
    body = await json_object(request)
    message = await ctx.intake().edit(path_id(request), body, f"token:{token.name}")
    return web.json_response(message_json(message, await ctx.store.deliveries(message.id)))


@routes.post("/api/v1/preview")
async def preview(request: web.Request) -> web.Response:
    await require(request, Role.VIEWER)
    return web.json_response(_ctx(request).intake().preview(await json_object(request)))


@routes.get("/api/v1/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    return web.json_response({"items": [token_json(t) for t in await _ctx(request).store.tokens()]})


@routes.post("/api/v1/tokens")
async def create_token(request: web.Request) -> web.Response:
    caller = await require(request, Role.ADMIN)
    ctx = _ctx(request)
    body = await json_object(request)
    name = tokens.valid_name(body.get("name"))  # the name's problem is reported before the role's
    try:
        role = Role.parse(str(body.get("role", "")))
    except ValueError as exc:
        raise InvalidInput("role", str(exc)) from None
    token, secret = await tokens.issue(
        ctx.store, name, role, f"token:{caller.name}", ctx.clock.now()
    )
    # The secret is shown once, here; only its hash is stored.
    return web.json_response(
        {**token_json(token), "token": secret},
        status=201,
        headers={"Location": f"/api/v1/tokens/{token.id}", "Cache-Control": "no-store"},
    )


@routes.delete("/api/v1/tokens/{id:\\d+}")
async def revoke_token(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    ctx = _ctx(request)
    token_id = path_id(request)
    if not await ctx.store.revoke_token(token_id, ctx.clock.now()):
        return problem(404, "Not found", f"no live token {token_id}")
    return web.Response(status=204)


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """The API's description (OpenAPI 3.1), shipped in the package; no token needed."""
    return web.Response(body=OPENAPI.read_bytes(), content_type="application/json", charset="utf-8")


@routes.get("/api/v1/channels")
async def list_channels(request: web.Request) -> web.Response:
    await require(request, Role.VIEWER)
    ctx = _ctx(request)
    states = await ctx.store.channel_states()
    return web.json_response(
        {"items": [channel_json(c, states.get(c.name)) for c in ctx.channels().all()]}
    )


@routes.post("/api/v1/channels/{name}/force")
async def force_channel(request: web.Request) -> web.Response:
    token = await require(request, Role.OPERATOR)
    ctx = _ctx(request)
    name = request.match_info["name"]
    live = ctx.channels().get(name)
    if live is None:
        return problem(404, "Not found", f"no channel {name!r}")
    body = await json_object(request)
    raw = body.get("state")
    try:
        forced = Forced(str(raw))
    except ValueError:
        return invalid("state", 'must be "down", "up" or "auto"')
    drill = body.get("drill")
    if drill not in (None, "internal", "public"):
        return invalid("drill", 'must be "internal", "public" or null')
    message_id = body.get("message_id")
    if message_id is not None and (type(message_id) is not int or not 0 < message_id < 2**62):
        return invalid("message_id", "must be a message id")
    state = await ctx.force(name, forced, f"token:{token.name}", drill, message_id)
    return web.json_response(channel_json(live, state))


@routes.get("/api/v1/events")
async def list_events(request: web.Request) -> web.Response:
    await require(request, Role.VIEWER)
    ctx = _ctx(request)
    events = await ctx.store.events(
        limit=_int(request, "limit", 100, hi=1000) or 100,
        channel=request.query.get("channel"),
        message_id=_int(request, "message_id", None, hi=2**62),
        since=_time(request, "since"),
        until=_time(request, "until"),
    )
    return web.json_response({"items": [event_json(e) for e in events]})


@routes.get("/api/v1/status")
async def status(request: web.Request) -> web.Response:
    await require(request, Role.VIEWER)
    ctx = _ctx(request)
    now = ctx.clock.now()
    states = await ctx.store.channel_states()
    return web.json_response(
        {
            "channels": [channel_json(c, states.get(c.name)) for c in ctx.channels().all()],
            "queue": queue_json(await ctx.store.queue_stats(now), now),
            "default_route": ctx.config().default_route,
            "cluster": [
                {
                    "node": n.node,
                    "leads": n.leads,
                    "since": iso(n.started_at),
                    "seen": iso(n.seen_at),
                    **n.info,
                }
                for n in await ctx.store.nodes(now)
            ],
            "routes": {
                name: {"mode": r.mode, "tiers": r.tiers} for name, r in ctx.config().routes.items()
            },
        }
    )


@routes.get("/api/v1/sessions")
async def list_sessions(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    ctx = _ctx(request)
    return web.json_response(
        {"items": [session_json(s) for s in await ctx.store.sessions(ctx.clock.now())]}
    )


@routes.delete("/api/v1/sessions/{id:\\d+}")
async def end_session(request: web.Request) -> web.Response:
    caller = await require(request, Role.ADMIN)
    ctx = _ctx(request)
    session_id = path_id(request)
    if not await ctx.store.end_session(session_id, f"token:{caller.name}", ctx.clock.now()):
        return problem(404, "Not found", f"no live session {session_id}")
    return web.Response(status=204)
