"""The daemon's web application: every route of the API, the UI and the public page, wired once."""

from __future__ import annotations

from aiohttp import web

from failover.api.auth import THROTTLE, denied_middleware
from failover.api.context import CONTEXT, ApiContext
from failover.api.incidents import add_incident_routes
from failover.api.problems import problem_middleware
from failover.api.routes import routes
from failover.api.status_page import add_status_page
from failover.api.throttle import AuthThrottle
from failover.subscribers.public_routes import add_subscriber_routes
from failover.web import add_web


def create_app(ctx: ApiContext, max_body: int) -> web.Application:
    app = web.Application(
        middlewares=[problem_middleware, denied_middleware], client_max_size=max_body
    )
    app[CONTEXT] = ctx
    app[THROTTLE] = AuthThrottle()
    app.add_routes(routes)
    add_web(app)
    add_subscriber_routes(app)
    add_incident_routes(app)
    app.router.add_get("/status/state.json", _public_state)
    app.router.add_get("/status", _status_redirect)
    add_status_page(app)
    return app


async def _public_state(request: web.Request) -> web.Response:
    """The primary platform's state for the public page's banner. Public: display names and
    states only, never the config key or the reason (it may name internal hosts). A channel
    without credentials is "unavailable" and one never checked "unknown": the page then makes
    no claim, rather than calling it operating normally."""
    ctx = request.app[CONTEXT]
    config = ctx.config()
    channels = ctx.channels()
    route = config.routes.get(config.default_route)
    states = await ctx.store.channel_states()
    primary = []
    for key in route.primary if route else []:
        st = states.get(key)
        live = channels.get(key)
        state = st.effective.value if st else "unknown"
        if live is None or live.adapter is None:
            state = "unavailable"
        primary.append({
            "name": config.channels[key].label if key in config.channels else "our platform",
            "state": state,
            "since": st.since.isoformat().replace("+00:00", "Z") if st and st.since else None,
        })  # fmt: skip
    return web.json_response({"primary": primary}, headers={"Cache-Control": "public, max-age=10"})


async def _status_redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/status/")
