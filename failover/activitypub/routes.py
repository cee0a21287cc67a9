"""The actor's HTTP face: WebFinger, host-meta, NodeInfo, the actor, its collections, one
page per post, images, and the inbox.

Content negotiation on ``Accept``: ``application/activity+json`` or ``application/ld+json``
get JSON (``Content-Type: application/activity+json``), anything else (browsers) HTML.
Everything answers 404 while no ``activitypub`` channel is configured.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web

from channels.activitypub import documents as docs
from failover.activitypub.inbox import InboxRefused
from failover.activitypub.service import FediverseService
from failover.api.routes import path_id

log = logging.getLogger("failover.activitypub")

SERVICE: web.AppKey[Callable[[], FediverseService | None]] = web.AppKey("fediverse")
JRD = "application/jrd+json"
MAX_INBOX_BODY = 256 * 1024
CACHE = {"Cache-Control": "public, max-age=60"}


def add_fediverse_routes(
    app: web.Application, service: Callable[[], FediverseService | None]
) -> None:
    app[SERVICE] = service
    r = app.router
    r.add_get("/.well-known/webfinger", webfinger)
    r.add_get("/.well-known/host-meta", host_meta)
    r.add_get("/.well-known/nodeinfo", nodeinfo_links)
    r.add_get("/nodeinfo/2.1", nodeinfo)
    r.add_get("/users/{username}", actor)
    r.add_post("/users/{username}/inbox", inbox)
    r.add_post("/inbox", inbox)
    r.add_get("/users/{username}/outbox", outbox)
    r.add_get("/users/{username}/followers", followers)
    r.add_get("/users/{username}/posts/{id:\\d+}", post)
    r.add_get("/users/{username}/posts/{id:\\d+}/activity", post_activity)
    r.add_get("/ap/media/{name}", media)
    r.add_get("/tags/{tag}", tag)


def _service(request: web.Request) -> tuple[FediverseService, docs.Actor]:
    svc = request.app[SERVICE]()
    actor = svc.actor if svc is not None else None
    if svc is None or actor is None:
        raise web.HTTPNotFound(text="no fediverse actor is configured")
    name = request.match_info.get("username")
    if name is not None and name.lower() != actor.username.lower():
        raise web.HTTPNotFound(text=f"no actor named {name}")
    return svc, actor


def wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "").lower()
    return "application/activity+json" in accept or "application/ld+json" in accept


def ap_json(doc: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(doc, status=status, content_type=docs.ACTIVITY_JSON, headers=CACHE)


async def webfinger(request: web.Request) -> web.Response:
    _, actor = _service(request)
    resource = request.query.get("resource", "").strip()
    if not resource:
        raise web.HTTPBadRequest(text="resource: required, e.g. acct:user@example.com")
    hosts = {actor.domain.lower(), request.host.lower(), docs.host_of(actor.base_url)}
    known = {f"acct:{actor.username}@{h}".lower() for h in hosts} | {actor.id.lower()}
    if resource.lower() not in known:
        raise web.HTTPNotFound(text=f"no account {resource} here")
    return web.json_response(docs.webfinger(actor), content_type=JRD, headers=CACHE)


async def host_meta(request: web.Request) -> web.Response:
    _, actor = _service(request)
    template = html.escape(f"{actor.base_url}/.well-known/webfinger?resource={{uri}}")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template="{template}"/>\n</XRD>\n'
    )
    return web.Response(text=body, content_type="application/xrd+xml", headers=CACHE)


async def nodeinfo_links(request: web.Request) -> web.Response:
    _, actor = _service(request)
    return web.json_response(docs.nodeinfo_links(actor), headers=CACHE)


async def nodeinfo(request: web.Request) -> web.Response:
    svc, _ = _service(request)
    _, total = await svc.store.ap_outbox(1, 0)
    doc = docs.nodeinfo(svc.version, total)
    profile = 'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"'
    return web.Response(body=json.dumps(doc).encode(), headers={**CACHE, "Content-Type": profile})


async def actor(request: web.Request) -> web.StreamResponse:
    svc, me = _service(request)
    if not wants_json(request):
        raise web.HTTPFound(me.profile_url or f"{me.base_url}/status/")
    assert svc.record is not None
    return ap_json(docs.actor_document(me, svc.public_key, svc.record.created_at))


async def inbox(request: web.Request) -> web.Response:
    svc, _ = _service(request)
    if svc.inbox is None:
        raise web.HTTPServiceUnavailable(text="the actor is starting")
    if request.content_length is not None and request.content_length > MAX_INBOX_BODY:
        raise web.HTTPRequestEntityTooLarge(MAX_INBOX_BODY, request.content_length)
    body = await request.content.read(MAX_INBOX_BODY + 1)
    if len(body) > MAX_INBOX_BODY:
        raise web.HTTPRequestEntityTooLarge(MAX_INBOX_BODY, len(body))
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        done = await svc.inbox.receive(request.path_qs, headers, body)
    except InboxRefused as exc:
        log.info("inbox refused a request: %s", exc.reason, extra={"event": "activitypub.refused"})
        return web.Response(status=exc.status, text=exc.reason)
    log.info("inbox: %s", done, extra={"event": "activitypub.inbox"})
    return web.Response(status=202, text="accepted")


def _page(request: web.Request) -> int | None:
    raw = request.query.get("page")
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise web.HTTPBadRequest(text="page: must be a number from 1")
    return int(raw)


async def outbox(request: web.Request) -> web.Response:
    svc, me = _service(request)
    page = _page(request)
    offset = ((page or 1) - 1) * docs.PAGE_SIZE
    items, total = await svc.store.ap_outbox(docs.PAGE_SIZE, offset)
    for item in items:
        item.pop("@context", None)
    return ap_json(docs.collection(me.outbox, total, page, items))


async def followers(request: web.Request) -> web.Response:
    svc, me = _service(request)
    page = _page(request)
    offset = ((page or 1) - 1) * docs.PAGE_SIZE
    total = (await svc.store.ap_follower_counts()).get("accepted", 0)
    rows = await svc.store.ap_followers("accepted", docs.PAGE_SIZE, offset) if page else []
    return ap_json(docs.collection(me.followers, total, page, [f.actor for f in rows]))


async def _object(request: web.Request) -> tuple[docs.Actor, dict[str, Any], dict[str, Any], bool]:
    svc, me = _service(request)
    found = await svc.store.ap_object(me.note_id(path_id(request)))
    if found is None:
        raise web.HTTPNotFound(text="no such post")
    return me, *found


async def post(request: web.Request) -> web.Response:
    me, note, _, deleted = await _object(request)
    if deleted:
        if wants_json(request):
            return ap_json({"@context": docs.CONTEXT, **note}, status=410)
        raise web.HTTPGone(text="this post was deleted")
    if wants_json(request):
        return ap_json({"@context": docs.CONTEXT, **note})
    return web.Response(text=note_page(me, note), content_type="text/html", headers=CACHE)


async def post_activity(request: web.Request) -> web.Response:
    _, _, create, deleted = await _object(request)
    if deleted:
        raise web.HTTPGone(text="this post was deleted")
    return ap_json(create)


async def media(request: web.Request) -> web.Response:
    svc, _ = _service(request)
    found = await svc.store.ap_media(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound(text="no such image")
    content_type, data = found
    return web.Response(
        body=data, content_type=content_type,
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )  # fmt: skip


async def tag(request: web.Request) -> web.StreamResponse:
    _, me = _service(request)
    raise web.HTTPFound(me.profile_url or f"{me.base_url}/status/")


def note_page(me: docs.Actor, note: dict[str, Any]) -> str:
    """A post for people: its sanitised HTML, content warning folded, images with alt text."""
    esc = html.escape
    body = str(note.get("content", ""))  # sanitised when the Note was made
    if note.get("summary"):
        body = f"<details><summary>{esc(str(note['summary']))}</summary>{body}</details>"
    images = "".join(
        f'<figure><img src="{esc(str(a.get("url")))}" alt="{esc(str(a.get("name") or ""))}" '
        f'style="max-width:100%"></figure>'
        for a in note.get("attachment", [])
        if isinstance(a, dict)
    )
    reply = note.get("inReplyTo")
    context = f'<p>In reply to <a href="{esc(str(reply))}">an earlier post</a></p>' if reply else ""
    profile = me.profile_url or f"{me.base_url}/status/"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(me.name)}: post</title>"
        f'<link rel="alternate" type="{docs.ACTIVITY_JSON}" href="{esc(str(note["id"]))}">'
        '</head><body style="font-family:system-ui,sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem">'
        f'<p><a href="{esc(profile)}">{esc(me.name)}</a> · @{esc(me.handle)}</p>'
        f"{context}<article>{body}{images}</article>"
        f'<p><time datetime="{esc(str(note.get("published", "")))}">'
        f"{esc(str(note.get('published', '')))}</time> · follow "
        f'<a href="{esc(quote(me.id, safe=":/"))}">@{esc(me.handle)}</a> from any fediverse server</p>'
        "</body></html>"
    )
