"""A local Atlassian Statuspage (``/api/v2/status.json`` and ``summary.json``) whose indicator
and component statuses the test switches while it runs."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.peers.faults import PeerServer, PeerStyle

DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}


class StatuspagePeer:
    def __init__(self, components: tuple[str, ...] = ("API", "Posting", "Website")) -> None:
        self.indicator = "none"
        self.components = {name: "operational" for name in components}
        app = web.Application()
        app.router.add_get("/api/v2/status.json", self._status)
        app.router.add_get("/api/v2/summary.json", self._summary)
        self.server = PeerServer(app, PeerStyle(
            json_error=lambda status, msg: web.json_response({"error": msg}, status=status),
            rate_limited=lambda reset: web.Response(status=429, text="Too Many Requests"),
            unauthorized=lambda: web.Response(status=401),
            is_write=lambda r: r.method != "GET",
        ))  # fmt: skip

    @property
    def url(self) -> str:
        return self.server.url

    async def __aenter__(self) -> StatuspagePeer:
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.close()

    def set(self, indicator: str, **components: str) -> None:
        """e.g. ``set("major", Posting="major_outage")``."""
        self.indicator = indicator
        for name, status in components.items():
            self.components[name] = status

    def _page(self) -> dict[str, Any]:
        return {"id": "x-status", "name": "X", "url": self.url, "time_zone": "Etc/UTC",
                "updated_at": "2026-11-25T00:00:00.000Z"}  # fmt: skip

    def _status_obj(self) -> dict[str, str]:
        return {"indicator": self.indicator, "description": DESCRIPTIONS[self.indicator]}

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response({"page": self._page(), "status": self._status_obj()})

    async def _summary(self, request: web.Request) -> web.Response:
        components = [
            {
                "id": f"c{i}",
                "name": name,
                "status": status,
                "group": False,
                "only_show_if_degraded": False,
            }
            for i, (name, status) in enumerate(self.components.items())
        ]
        incidents = (
            []
            if self.indicator == "none"
            else [
                {
                    "id": "inc1",
                    "name": "Posting issues",
                    "status": "investigating",
                    "impact": self.indicator,
                }
            ]
        )
        return web.json_response({
            "page": self._page(), "status": self._status_obj(), "components": components,
            "incidents": incidents, "scheduled_maintenances": [],
        })  # fmt: skip
