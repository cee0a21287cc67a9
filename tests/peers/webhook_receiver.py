"""A local webhook receiver: verifies failover's signature and records every request."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.peers.faults import PeerServer, PeerStyle


@dataclass
class Received:
    body: dict[str, Any]
    headers: dict[str, str]
    at: float  # arrival, epoch seconds
    status: int  # what the receiver answered
    raw: bytes = b""  # the body as signed


def _style() -> PeerStyle:
    return PeerStyle(
        json_error=lambda status, msg: web.json_response({"error": msg}, status=status),
        rate_limited=lambda reset: web.json_response(
            {"error": "slow down"}, status=429, headers={"Retry-After": str(int(reset))}
        ),
        unauthorized=lambda: web.json_response({"error": "bad signature"}, status=401),
        is_write=lambda r: r.method == "POST",
    )


class WebhookReceiver:
    """``async with WebhookReceiver(secret=...) as r``: POST ``{r.server.url}/hook``.

    ``delay`` (seconds) holds every POST's answer that long, as real platforms take time to
    answer; a request joins ``received`` once answered, so a count of arrivals is a count of
    finished sends (``at`` stays the arrival time).
    """

    def __init__(self, secret: str | None = None, *, delay: float = 0.0) -> None:
        self.secret = secret
        self.delay = delay
        self.received: list[Received] = []
        self._failures: list[tuple[int, float | None]] = []
        self._ids = itertools.count(1)
        self.answer_url = "https://hooks.example/{n}"  # the post's URL in the answer
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        app.router.add_route("HEAD", "/hook", self._head)
        self.server = PeerServer(app, _style())

    async def __aenter__(self) -> WebhookReceiver:
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.close()

    def fail_next(self, n: int, *, status: int = 503, retry_after: float | None = None) -> None:
        self._failures.extend([(status, retry_after)] * n)

    def keys(self) -> list[str]:
        return [r.headers.get("Idempotency-Key", "") for r in self.received]

    def delivered(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]

    async def _head(self, request: web.Request) -> web.Response:
        return web.Response(status=405)

    async def _hook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        arrived = time.time()
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        if self.secret is not None and not self._signed(request, raw):
            return web.json_response({"error": "bad signature"}, status=401)
        status, retry_after = self._failures.pop(0) if self._failures else (200, None)
        self.received.append(Received(json.loads(raw), dict(request.headers), arrived, status, raw))
        if status != 200:
            headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
            return web.json_response(
                {"error": f"injected {status}"}, status=status, headers=headers
            )
        n = next(self._ids)
        return web.json_response({"id": f"h{n}", "url": self.answer_url.format(n=n)})

    def _signed(self, request: web.Request, raw: bytes) -> bool:
        assert self.secret is not None
        ts = request.headers.get("X-Failover-Timestamp", "")
        got = request.headers.get("X-Failover-Signature", "")
        want = (
            "sha256="
            + hmac.new(self.secret.encode(), f"{ts}.".encode() + raw, hashlib.sha256).hexdigest()
        )
        fresh = ts.isdigit() and abs(time.time() - int(ts)) < 300
        return fresh and hmac.compare_digest(got, want)
