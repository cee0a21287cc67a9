"""The public subscriber pages: /status/subscribe (form post, confirmation link) and
/status/unsubscribe/<key> (RFC 8058 one-click POST; a GET only shows a button, because mail
scanners follow links)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from failover.api.auth import client_address
from failover.api.context import CONTEXT
from failover.errors import InvalidInput
from failover.subscribers import links
from failover.subscribers.signup import LinkProblem, Subscriptions, valid_address, valid_components
from failover.web.templates_env import env

MAX_FORM = 16 * 1024  # a form of an address and some component ids


def subscriptions(request: web.Request) -> Subscriptions:
    ctx = request.app[CONTEXT]
    return Subscriptions(ctx.store, ctx.clock, ctx.runtime)


def page(name: str, status: int = 200, headers: dict[str, str] | None = None, **values: Any) -> web.Response:  # fmt: skip
    html = env.get_template(f"status/{name}").render(**values)
    return web.Response(
        text=html, status=status, content_type="text/html",
        headers={
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'self'; style-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'",
            **(headers or {}),
        },
    )  # fmt: skip


async def _form(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > MAX_FORM:
        raise InvalidInput("body", f"a subscribe form is at most {MAX_FORM} bytes")
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise InvalidInput("body", "send the form as application/x-www-form-urlencoded")
    return await request.post()


async def subscribe_page(request: web.Request) -> web.Response:
    """The form on a page of its own (the status page includes the same form)."""
    return page("subscribe.html")


async def subscribe(request: web.Request) -> web.Response:
    form = await _form(request)
    try:
        address = valid_address(form.get("email"))
        components = valid_components(form.getall("components", []))
    except InvalidInput as exc:
        return page("subscribe_invalid.html", 422, problem=str(exc))
    wait = await subscriptions(request).subscribe(address, components, client_address(request))
    if wait is not None:
        return page("too_many.html", 429, {"Retry-After": str(wait)}, wait=wait)
    return page("check_inbox.html", 200)


async def confirm_page(request: web.Request) -> web.Response:
    token = request.query.get("token", "")
    found = await subscriptions(request).check_link(token)
    if isinstance(found, LinkProblem):
        return _problem(found)
    return page("confirm.html", token=token, address=found.address, components=found.components)


async def confirm(request: web.Request) -> web.Response:
    form = await _form(request)
    token = form.get("token")
    found = await subscriptions(request).confirm(token if isinstance(token, str) else "")
    if isinstance(found, LinkProblem):
        return _problem(found)
    return page("confirmed.html", address=found.address)


def _problem(problem: LinkProblem) -> web.Response:
    return page("link_problem.html", 400 if problem is LinkProblem.MALFORMED else 410, problem=problem.value)  # fmt: skip


async def unsubscribe_page(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    row = await request.app[CONTEXT].store.sub_by_unsubscribe_key(key) if links.well_formed_key(key) else None  # fmt: skip
    if row is None:
        return page("unsubscribe.html", 404, missing=True)
    if row.state == "unsubscribed":
        return page("unsubscribe.html", done=True)
    return page("unsubscribe.html", key=key, address=masked(row.address))


async def unsubscribe(request: web.Request) -> web.Response:
    """One click: the POST itself unsubscribes, without a cookie or another step."""
    key = request.match_info["key"]
    form = await _form(request)
    if form.get("List-Unsubscribe") != "One-Click":
        raise InvalidInput("List-Unsubscribe", "the body must be List-Unsubscribe=One-Click")
    ctx = request.app[CONTEXT]
    row = await ctx.store.sub_by_unsubscribe_key(key) if links.well_formed_key(key) else None
    if row is None:
        return page("unsubscribe.html", 404, missing=True)
    await ctx.store.sub_unsubscribe(key, ctx.clock.now())
    return page("unsubscribe.html", done=True)


def masked(address: str) -> str:
    """``j***@example.com``: enough to recognise one's own address, not to learn someone's."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def add_subscriber_routes(app: web.Application) -> None:
    """The public pages and the admin API of subscribers (one line in failover/api)."""
    from failover.subscribers.admin_routes import add_admin_routes

    app.router.add_get("/status/subscribe", subscribe_page)
    app.router.add_post("/status/subscribe", subscribe)
    app.router.add_get("/status/subscribe/confirm", confirm_page)
    app.router.add_post("/status/subscribe/confirm", confirm)
    app.router.add_get("/status/unsubscribe/{key}", unsubscribe_page)
    app.router.add_post("/status/unsubscribe/{key}", unsubscribe)
    add_admin_routes(app)
