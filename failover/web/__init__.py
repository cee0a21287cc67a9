"""The web UI served by the daemon: dashboard, compose, scheduled, tokens (server-rendered)."""

from __future__ import annotations

from failover.web import fediverse as _fediverse  # noqa: F401 - registers its pages
from failover.web.pages import add_web

__all__ = ["add_web"]
