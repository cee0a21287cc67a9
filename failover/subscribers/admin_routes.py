"""Admin API of subscribers under /api/v1/subscribers: list with counts, CSV export and
import, erasure, webhook subscribers. Admin only: the rows are people's addresses."""

from __future__ import annotations

from aiohttp import web

from failover.api.auth import require
from failover.api.context import CONTEXT
from failover.api.routes import _int, json_object, path_id
from failover.errors import InvalidInput, NotFound
from failover.model import Role
from failover.store.subscribers import KINDS, STATES
from failover.subscribers import admin, csv_io
from failover.subscribers.public_routes import subscriptions

PAGE_ALL = 1_000_000  # an export has every row


def _choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query.get(name)
    if value is not None and value not in allowed:
        raise InvalidInput(name, f"must be one of {', '.join(allowed)}")
    return value


async def list_subscribers(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    store = request.app[CONTEXT].store
    kind, state = _choice(request, "kind", KINDS), _choice(request, "state", STATES)
    limit = _int(request, "limit", 100) or 100
    offset = _int(request, "offset", 0, lo=0, hi=10_000_000) or 0
    rows = await store.sub_list(kind, state, limit, offset)
    retries = await store.hook_retry_counts()
    return web.json_response({
        "items": [csv_io.subscriber_json(s, retries.get(s.id, 0)) for s in rows],
        "counts": await store.sub_counts(),
    })  # fmt: skip


async def export_csv(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    rows = await request.app[CONTEXT].store.sub_list(None, None, PAGE_ALL, 0)
    return web.Response(
        text=csv_io.export(rows), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="subscribers.csv"',
                 "Cache-Control": "no-store"},
    )  # fmt: skip


async def import_csv(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    if request.content_type not in ("text/csv", "text/plain"):
        raise InvalidInput("body", "send the CSV with Content-Type: text/csv")
    try:
        text = await request.text()
    except (UnicodeDecodeError, LookupError):
        raise InvalidInput("body", "is not UTF-8 text") from None
    counts = await admin.import_csv(subscriptions(request), text)
    return web.json_response(counts)


async def add_webhook(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    body = await json_object(request)
    components = body.get("components", [])
    if not isinstance(components, list):
        raise InvalidInput("components", "must be a list of component ids")
    row, secret = await admin.add_webhook(
        subscriptions(request), body.get("url"), body.get("contact_email"), components,
        body.get("secret"),
    )  # fmt: skip
    return web.json_response(
        {**csv_io.subscriber_json(row), "secret": secret}, status=201,
        headers={"Location": f"/api/v1/subscribers/{row.id}", "Cache-Control": "no-store"},
    )  # fmt: skip


async def delete_subscriber(request: web.Request) -> web.Response:
    """Erasure on request: the row is deleted, not flagged."""
    await require(request, Role.ADMIN)
    subscriber_id = path_id(request)
    if not await request.app[CONTEXT].store.sub_delete(subscriber_id):
        raise NotFound(f"no subscriber {subscriber_id}")
    return web.Response(status=204)


def add_admin_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/subscribers", list_subscribers)
    app.router.add_post("/api/v1/subscribers", add_webhook)
    app.router.add_get("/api/v1/subscribers.csv", export_csv)
    app.router.add_post("/api/v1/subscribers/import", import_csv)
    app.router.add_delete("/api/v1/subscribers/{id:\\d+}", delete_subscriber)
