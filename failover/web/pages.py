"""The web UI: server-rendered pages for people who do not live in a terminal.

Every page needs a session (log in with an API token); every state-changing request needs
the session's CSRF token and the role the matching API endpoint needs. Handlers call the same
intake and store as the REST API, so the two cannot drift apart.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, available_timezones

from aiohttp import web
from markupsafe import Markup

from failover import startup, timefmt
from failover.activitypub.admin import ledger as fediverse_ledger
from failover.activitypub.admin import summary as fediverse_summary
from failover.api.auth import client_address, refusal, token_for
from failover.api.context import CONTEXT, ApiContext
from failover.api.routes import path_id, read_json
from failover.api.views import channel_json, event_json, message_json, queue_json
from failover.errors import Conflict, InvalidInput, NotFound
from failover.model import DeliveryState, Forced, Role, message_state
from failover.retract import Retractor, published
from failover.timeline import details, sentence, who
from failover.tokens import issue as issue_token
from failover.tokens import same
from failover.web import session as sessions
from failover.web.templates_env import HERE, env

_env = env
routes = web.RouteTableDef()
Handler = Callable[[web.Request, sessions.Session], Awaitable[web.StreamResponse]]
ZONES = sorted(available_timezones())
_ZONE_NAMES = frozenset(ZONES)


def _ctx(request: web.Request) -> ApiContext:
    return request.app[CONTEXT]


def render(
    request: web.Request,
    name: str,
    session: sessions.Session | None,
    status: int = 200,
    **values: Any,
) -> web.Response:
    if session is None:  # the login page says how to make a token for this very daemon
        values.setdefault("token_command", _token_command(request))
    ctx = _ctx(request)
    config = ctx.config()
    values.setdefault("ui_zone", config.ui.time_zone)
    values["when"] = _when_html(timefmt.zone(config.ui.time_zone), ctx.clock.now())
    labels = {name: ch.label for name, ch in config.channels.items()}

    def label(name: str | None) -> str:
        return labels.get(name or "", name or "")

    values.update(label=label, sentence=lambda e: sentence(e, label), details=details,
                  who=who, short_reason=startup.short_reason)  # fmt: skip
    html = _env.get_template(name).render(session=session, Role=Role, path=request.path, **values)
    return web.Response(
        text=html,
        status=status,
        content_type="text/html",
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
            "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


def _when_html(zone: tzinfo, now: datetime) -> Callable[..., Markup]:
    """``when(iso, hint=False)`` for templates: the time in the UI's zone with the zone's name
    (and "in 3 h"); app.js re-renders it in the reader's own zone."""

    def when(value: str | datetime | None, hint: bool = False) -> Markup:
        at = timefmt.parse_iso(value)
        if at is None:
            return Markup("")
        text = timefmt.local(at, zone) + (f" ({timefmt.relative(at, now)})" if hint else "")
        flag = Markup(" data-hint") if hint else ""
        return Markup('<time datetime="{}" data-when{}>{}</time>').format(
            at.astimezone(UTC).isoformat(), flag, text
        )

    return when


def _token_command(request: web.Request) -> str:
    return startup.token_create_command(_ctx(request).config(), role="publisher", name="you")


def page(role: Role, *, changes: bool = False) -> Callable[[Handler], Callable[..., Any]]:
    """A page needing ``role``; with ``changes`` the CSRF token must come back too."""

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def inner(request: web.Request) -> web.StreamResponse:
            session = await sessions.current(request)
            if session is None:
                if changes:
                    raise web.HTTPForbidden(text="log in first")
                raise web.HTTPSeeOther(f"/ui/login?next={quote(request.path_qs)}")
            if changes:
                sent = request.headers.get("X-CSRF-Token")
                if sent is None and request.content_type in (
                    "application/x-www-form-urlencoded",
                    "multipart/form-data",
                ):
                    sent = str((await request.post()).get("csrf", ""))
                if not sessions.csrf_ok(session, sent):
                    raise web.HTTPForbidden(text="missing or wrong CSRF token; reload the page")
            if session.token.role < role:
                return render(request, "denied.html", session, status=403, needed=role)
            return await handler(request, session)

        return inner

    return wrap


# -- login ---------------------------------------------------------------------------------


@routes.get("/ui/login")
async def login_form(request: web.Request) -> web.Response:
    nonce = sessions.new_login_nonce()
    response = render(request, "login.html", None, nonce=nonce, next=_next(request))
    response.set_cookie(
        sessions.LOGIN_COOKIE, nonce, max_age=3600, path="/ui/login", httponly=True,
        samesite="Strict", secure=request.secure,
    )  # fmt: skip
    return response


@routes.post("/ui/login")
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    nonce = request.cookies.get(sessions.LOGIN_COOKIE, "")
    if not nonce or not same(nonce, str(form.get("nonce", ""))):
        raise web.HTTPForbidden(text="the login form expired; reload the page")
    token = await token_for(request, str(form.get("token", "")).strip())
    if token is None:
        refused = refusal(request, client_address(request))
        error = "That token is unknown or revoked."
        if refused.status == 429:
            error = f"Too many failed attempts. Try again in {refused.headers['Retry-After']} s."
        return render(request, "login.html", None, status=refused.status, nonce=nonce,
                      next=_next(request), error=error)  # fmt: skip
    response = web.HTTPSeeOther(_next(request, str(form.get("next", ""))))
    sessions.set_session(response, request, await sessions.open_session(request, token))
    response.del_cookie(sessions.LOGIN_COOKIE, path="/ui/login")
    raise response


def _next(request: web.Request, raw: str | None = None) -> str:
    """Where to go after login: only a local /ui/ path (no open redirect)."""
    target = raw if raw is not None else request.query.get("next", "")
    if target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/"


@routes.post("/ui/logout")
@page(Role.VIEWER, changes=True)
async def logout(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    ctx = _ctx(request)
    await ctx.store.end_session(session.id, None, ctx.clock.now())
    response = web.HTTPSeeOther("/ui/login")
    sessions.clear_session(response)
    raise response


# -- dashboard -----------------------------------------------------------------------------


@routes.get("/ui/")
@page(Role.VIEWER)
async def dashboard(request: web.Request, session: sessions.Session) -> web.Response:
    ctx = _ctx(request)
    now = ctx.clock.now()
    states = await ctx.store.channel_states()
    channels = [channel_json(c, states.get(c.name)) for c in ctx.channels().all()]
    messages = await ctx.store.messages(limit=15)
    recent = [message_json(m, await ctx.store.deliveries(m.id)) for m in messages]
    events = [event_json(e) for e in await ctx.store.events(limit=40)]
    route = ctx.config().routes.get(ctx.config().default_route)
    return render(
        request, "dashboard.html", session,
        channels=channels, primary=route.primary if route else [],
        queue=queue_json(await ctx.store.queue_stats(now), now), recent=recent, events=events,
        nodes=await ctx.store.nodes(now) if ctx.store.shared else [],
        fediverse=await fediverse_summary(ctx.store, ctx.channels()),
        subscribers=await ctx.store.sub_counts(),
    )  # fmt: skip


@routes.post("/ui/channels/{name}/force")
@page(Role.OPERATOR, changes=True)
async def force(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    ctx = _ctx(request)
    name = request.match_info["name"]
    if ctx.channels().get(name) is None:
        raise web.HTTPNotFound(text=f"no channel {name!r}")
    raw = str((await request.post()).get("state", ""))
    try:
        forced = Forced(raw)
    except ValueError:
        raise web.HTTPBadRequest(text='state must be "down", "up" or "auto"') from None
    await ctx.force(name, forced, f"web:{session.token.name}")
    raise web.HTTPSeeOther("/ui/")


# -- messages ------------------------------------------------------------------------------


@routes.get("/ui/messages/{id:\\d+}")
@page(Role.VIEWER)
async def show_message(request: web.Request, session: sessions.Session) -> web.Response:
    return await _message_page(request, session, path_id(request))


async def _message_page(
    request: web.Request,
    session: sessions.Session,
    message_id: int,
    form: dict[str, str] | None = None,
    error: str | None = None,
) -> web.Response:
    ctx = _ctx(request)
    message = await ctx.store.message(message_id)
    if message is None:
        raise web.HTTPNotFound(text=f"no message {message_id}")
    deliveries = await ctx.store.deliveries(message_id)
    events = [event_json(e) for e in await ctx.store.events(limit=100, message_id=message_id)]
    open_ = message_state(message, deliveries).value in ("scheduled", "queued")
    editable = open_ and not any(
        d.attempts or d.state not in (DeliveryState.PENDING, DeliveryState.SKIPPED)
        for d in deliveries
    )
    retracted = {e["channel"] for e in events if e["kind"] == "delivery.retracted"}
    settled = retracted | {e["channel"] for e in events
                           if e["kind"] == "delivery.retract_impossible"}  # fmt: skip
    retractable = any(published(d) and d.channel not in settled for d in deliveries)
    return render(
        request, "message.html", session, status=422 if error else 200,
        m=message_json(message, deliveries), events=events, cancellable=open_,
        retracted=retracted, retractable=retractable,
        editable=editable, form=form or {}, error=error, zones=ZONES,
        edit_at=_local_input(message.scheduled_at, ctx.config().ui.time_zone),
        inboxes=await fediverse_ledger(ctx.store, ctx.channels(), message_id),
    )  # fmt: skip


@routes.post("/ui/messages/{id:\\d+}/cancel")
@page(Role.PUBLISHER, changes=True)
async def cancel_message(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    message_id = path_id(request)
    try:
        await _ctx(request).intake().cancel(message_id, f"web:{session.token.name}")
    except (Conflict, NotFound) as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    raise web.HTTPSeeOther(f"/ui/messages/{message_id}")


@routes.post("/ui/messages/{id:\\d+}/retract")
@page(Role.PUBLISHER, changes=True)
async def retract_message(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    ctx = _ctx(request)
    message_id = path_id(request)
    retractor = Retractor(ctx.store, ctx.clock, ctx.channels, ctx.intake().cancel)
    try:
        await retractor.retract(message_id, f"web:{session.token.name}")
    except NotFound as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    raise web.HTTPSeeOther(f"/ui/messages/{message_id}")


@routes.post("/ui/messages/{id:\\d+}/edit")
@page(Role.PUBLISHER, changes=True)
async def edit_message(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    message_id = path_id(request)
    form = {k: str(v) for k, v in (await request.post()).items() if k != "csrf"}
    try:
        changes: dict[str, Any] = {"text": form.get("text", "")}
        for key in ("title", "link", "content_warning"):
            changes[key] = form.get(key, "").strip() or None
        changes["scheduled_at"] = _when(form, "scheduled_at")
        if form.get("allow_past"):
            changes["allow_past"] = True
        await _ctx(request).intake().edit(message_id, changes, f"web:{session.token.name}")
    except InvalidInput as exc:
        return await _message_page(request, session, message_id, form, f"{exc.field}: {exc.detail}")
    except (Conflict, NotFound) as exc:
        return await _message_page(request, session, message_id, form, str(exc))
    raise web.HTTPSeeOther(f"/ui/messages/{message_id}")


@routes.get("/ui/scheduled")
@page(Role.VIEWER)
async def scheduled(request: web.Request, session: sessions.Session) -> web.Response:
    ctx = _ctx(request)
    zone = _zone(request.query.get("tz") or ctx.config().ui.time_zone)
    now = ctx.clock.now()
    days: dict[str, list[dict[str, Any]]] = {}
    for m in await ctx.store.messages(limit=500):
        if m.scheduled_at is None or m.scheduled_at <= now or m.cancelled_at is not None:
            continue
        local = m.scheduled_at.astimezone(zone)
        days.setdefault(local.strftime("%A %d %B %Y"), []).append(
            {
                "id": m.id,
                "time": local.strftime("%H:%M %Z"),
                "at": m.scheduled_at,
                "text": m.text,
                "route": m.route,
                "sort": m.scheduled_at,
            }
        )
    ordered = sorted(days.items(), key=lambda kv: kv[1][0]["sort"])
    for _, items in ordered:
        items.sort(key=lambda i: i["sort"])
    return render(request, "scheduled.html", session, days=ordered, tz=zone.key, zones=ZONES)


# -- compose -------------------------------------------------------------------------------


@routes.get("/ui/compose")
@page(Role.PUBLISHER)
async def compose_form(request: web.Request, session: sessions.Session) -> web.Response:
    return _compose(request, session, {})


def _compose(
    request: web.Request,
    session: sessions.Session,
    form: dict[str, str],
    error: str | None = None,
    field: str | None = None,
) -> web.Response:
    config = _ctx(request).config()
    public = [r for r in config.routes if not r.startswith("_")]  # not the alerts' own
    return render(
        request, "compose.html", session, status=422 if error else 200, form=form,
        error=error, field=field, routes=public, default_route=config.default_route,
        zones=ZONES, channels=list(config.channels),
        open_overrides=any(k.startswith("override.") and v for k, v in form.items()),
    )  # fmt: skip


@routes.post("/ui/compose")
@page(Role.PUBLISHER, changes=True)
async def compose(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    post = await request.post()
    form = {k: str(v) for k, v in post.items() if isinstance(v, str) and k != "csrf"}
    try:
        payload = _payload(form, post.get("image"))
        message, _, _ = (
            await _ctx(request).intake().submit(payload, actor=f"web:{session.token.name}")
        )
    except InvalidInput as exc:
        # Bad input loses nothing: the form comes back filled in, the field named.
        return _compose(request, session, form, f"{exc.field}: {exc.detail}", exc.field)
    raise web.HTTPSeeOther(f"/ui/messages/{message.id}")


def _payload(form: dict[str, str], image: object) -> dict[str, Any]:
    payload: dict[str, Any] = {"text": form.get("text", "")}
    for key in ("title", "link", "content_warning", "route"):
        if form.get(key, "").strip():
            payload[key] = form[key].strip()
    for key in ("scheduled_at", "expires_at"):
        if (when := _when(form, key)) is not None:
            payload[key] = when
    if form.get("allow_past"):
        payload["allow_past"] = True
    overrides = {
        k.removeprefix("override."): v.strip()
        for k, v in form.items()
        if k.startswith("override.") and v.strip()
    }
    if overrides:
        payload["overrides"] = overrides
    thread = form.get("thread", "").strip().lstrip("#")
    if thread:
        if not (thread.isascii() and thread.isdigit() and len(thread) <= 19):
            raise InvalidInput("thread", "is the number of the message to continue")
        payload["thread"] = int(thread)
    if isinstance(image, web.FileField):
        data = image.file.read()
        if data:
            payload["images"] = [{
                "data": base64.b64encode(data).decode(),
                "content_type": image.content_type,
                "alt": form.get("alt", ""),
            }]  # fmt: skip
    return payload


def _when(form: dict[str, str], key: str) -> str | None:
    """A form's local date-time field, read in the form's time zone, as UTC ISO 8601."""
    raw = form.get(key, "").strip()
    if not raw:
        return None
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(key, "is not a date and time") from None
    zone = _zone(form.get("tz"), strict=True)
    return local.replace(tzinfo=zone).astimezone(UTC).isoformat()


def _local_input(at: datetime | None, zone: str) -> str:
    """A stored time as a datetime-local field's value in ``zone`` (the form's default)."""
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M:%S") if at else ""


def _zone(name: str | None, *, strict: bool = False) -> ZoneInfo:
    """A known zone; ``America`` (a directory), ``../x`` or junk is never opened as a file."""
    if name in _ZONE_NAMES or not name:
        return ZoneInfo(name or "UTC")
    if strict:
        raise InvalidInput("tz", f"unknown time zone {name[:64]!r}")
    return ZoneInfo("UTC")


@routes.post("/ui/preview")
@page(Role.PUBLISHER, changes=True)
async def preview(request: web.Request, session: sessions.Session) -> web.Response:
    try:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise InvalidInput("body", "must be a JSON object")
        return web.json_response(_ctx(request).intake().preview(body))
    except InvalidInput as exc:
        return web.json_response({"error": f"{exc.field}: {exc.detail}"}, status=422)


# -- tokens (admin) ------------------------------------------------------------------------


@routes.get("/ui/tokens")
@page(Role.ADMIN)
async def tokens(request: web.Request, session: sessions.Session) -> web.Response:
    return await _tokens(request, session)


async def _tokens(
    request: web.Request,
    session: sessions.Session,
    created: dict[str, str] | None = None,
    error: str | None = None,
) -> web.Response:
    ctx = _ctx(request)
    items = await ctx.store.tokens()
    live = await ctx.store.sessions(ctx.clock.now())
    return render(request, "tokens.html", session, tokens=items, created=created, error=error,
                  roles=[r.label for r in Role], sessions=live)  # fmt: skip


@routes.post("/ui/tokens")
@page(Role.ADMIN, changes=True)
async def create_token(request: web.Request, session: sessions.Session) -> web.Response:
    ctx = _ctx(request)
    form = await request.post()
    name = str(form.get("name", "")).strip()
    try:
        role = Role.parse(str(form.get("role", "")))
    except ValueError as exc:
        return await _tokens(request, session, error=str(exc))
    try:
        token, secret = await issue_token(
            ctx.store, name, role, f"web:{session.token.name}", ctx.clock.now()
        )
    except InvalidInput as exc:
        return await _tokens(request, session, error=str(exc))
    return await _tokens(request, session, created={"name": token.name, "token": secret})


@routes.post("/ui/tokens/{id:\\d+}/revoke")
@page(Role.ADMIN, changes=True)
async def revoke_token(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    ctx = _ctx(request)
    await ctx.store.revoke_token(path_id(request), ctx.clock.now())
    raise web.HTTPSeeOther("/ui/tokens")


@routes.post("/ui/sessions/{id:\\d+}/end")
@page(Role.ADMIN, changes=True)
async def end_session(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    ctx = _ctx(request)
    await ctx.store.end_session(path_id(request), f"web:{session.token.name}", ctx.clock.now())
    raise web.HTTPSeeOther("/ui/tokens")


# -- the application -----------------------------------------------------------------------


async def _root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/ui/")


def add_web(app: web.Application) -> None:
    from failover.web import calendar_view, components_view, incidents_view  # use page()

    app.add_routes(routes)
    app.add_routes(calendar_view.routes)
    app.add_routes(incidents_view.routes)
    app.add_routes(components_view.routes)
    app.router.add_get("/", _root)
    app.router.add_get("/ui", _root)
    app.router.add_static("/ui/static", HERE / "static", append_version=True)
