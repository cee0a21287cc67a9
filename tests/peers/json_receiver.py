"""A local endpoint for Apprise's ``json://`` and ``form://`` URLs: records what arrived and
fails on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.peers.faults import PeerServer, PeerStyle


@dataclass
class Arrival:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class JsonReceiver:
    arrivals: list[Arrival] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)  # path -> HTTP status to answer

    def __post_init__(self) -> None:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._receive)
        self.server = PeerServer(app, PeerStyle(
            json_error=lambda status, msg: web.json_response({"error": msg}, status=status),
            rate_limited=lambda reset: web.Response(status=429, headers={"Retry-After": str(int(reset))}),
            unauthorized=lambda: web.Response(status=401),
            is_write=lambda r: r.method == "POST",
        ))  # fmt: skip

    async def __aenter__(self) -> JsonReceiver:
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.close()

    def at(self, path: str) -> list[dict[str, Any]]:
        return [a.body for a in self.arrivals if a.path == path]

    async def _receive(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        if path in self.fail:
            return web.Response(status=self.fail[path], text="injected failure")
        if request.content_type == "application/json":
            body: dict[str, Any] = await request.json()
        else:
            body = dict(await request.post())  # type: ignore[arg-type]
        self.arrivals.append(Arrival(path, body, dict(request.headers)))
        return web.json_response({"ok": True})
