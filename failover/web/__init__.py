"""The web UI served by the daemon: dashboard, compose, scheduled, tokens (server-rendered)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["add_web"]


def add_web(app: web.Application) -> None:
    """Add the UI's routes (imported here: the pages use the API's auth, and the API adds them)."""
    from failover.web import (
        fediverse,  # noqa: F401 - registers its pages
        subscribers,  # noqa: F401 - registers its pages
    )
    from failover.web.pages import add_web as add

    add(app)
