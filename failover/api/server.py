"""The HTTP server's lifecycle: build the app from the API context, listen, and clean up."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from failover.activitypub.routes import add_fediverse_routes
from failover.activitypub.service import FediverseService
from failover.api.app import create_app
from failover.api.context import ApiContext
from failover.config import ApiConfig


async def serve(
    ctx: ApiContext, config: ApiConfig, fediverse: Callable[[], FediverseService | None]
) -> web.AppRunner:
    """Listen on ``config.listen``; the caller cleans the runner up at stop."""
    app = create_app(ctx, config.max_body)
    add_fediverse_routes(app, fediverse)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, config.host, config.port, reuse_address=True).start()
    return runner
