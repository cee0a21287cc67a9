"""Switchable faults for the local platform imitations ("peers").

Every peer is an aiohttp app run by ``PeerServer``; a middleware injects the fault that the
test switched on, at run time, in the shape the real platform uses (the peer supplies its own
error bodies and rate-limit headers through ``PeerStyle``). The faults are the common list of
``shared/peers.md``: HTML 5xx from a load balancer, JSON 5xx, hanging, refused connections,
resets mid-response, answers that stall mid-body, slow answers, 429s, revoked credentials,
partial outages where reads work and writes fail, flapping, and ambiguous writes (stored,
then the connection dropped).
"""

from __future__ import annotations

import asyncio
import enum
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)
HTML_503 = (
    "<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>"
    "<h1>Over capacity</h1><p>Something is technically wrong.</p></body></html>"
)


class Fault(enum.Enum):
    NONE = "none"
    HTML_5XX = "html_5xx"  # text/html 503 (or ``status``) from the edge
    JSON_5XX = "json_5xx"  # the platform's own JSON error with a 5xx status
    HANG = "hang"  # accept, read the request, never answer
    STALL = "stall"  # handle the request (a write is stored), send headers, stall mid-body
    RESET = "reset"  # start the answer, then drop the connection
    SLOW = "slow"  # answer normally after ``delay`` seconds
    RATE_LIMITED = "rate_limited"  # 429 with the platform's headers
    REVOKED = "revoked"  # credentials no longer valid
    WRITES_FAIL = "writes_fail"  # reads fine, writes answer 503 (a partial outage)
    FLAPPING = "flapping"  # alternate good/bad (HTML 503) every ``period`` seconds
    AMBIGUOUS = "ambiguous"  # writes are stored, then the connection drops before the answer


@dataclass
class PeerStyle:
    """How one platform words its errors; each peer fills it in."""

    json_error: Callable[[int, str], web.Response]
    rate_limited: Callable[[float], web.Response]  # argument: seconds until the window resets
    unauthorized: Callable[[], web.Response]
    is_write: Callable[[web.Request], bool]


@dataclass
class FaultState:
    fault: Fault = Fault.NONE
    status: int = 503
    delay: float = 3.0
    period: float = 2.0
    retry_after: float = 30.0
    times: int | None = None  # apply to the next N matching requests only, then back to NONE
    writes_only: bool = False  # reads pass (X's limits are per endpoint: a 429 on posting)
    since: float = field(default_factory=time.monotonic)


class PeerServer:
    """An aiohttp app on 127.0.0.1 with a fault switch; ``requests`` logs what arrived."""

    def __init__(self, app: web.Application, style: PeerStyle, *, port: int = 0) -> None:
        self.style = style
        self.state = FaultState()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request seen
        self.app = app
        app.middlewares.insert(0, self._middleware)
        self._port = port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        if self._port == 0:
            self._port = _free_port()
        # No access log: the peer plays the platform, and its logs are not failover's (a webhook
        # URL path is a secret only failover must keep out of its own logs).
        self._runner = web.AppRunner(self.app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        await self._listen()

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self._port, reuse_address=True)
        await self._site.start()

    async def stop_listening(self) -> None:
        """Refuse connections from now on (the port is closed, not filtered)."""
        if self._site is not None:
            await self._site.stop()
            self._site = None
        if self._runner is not None and self._runner.server is not None:
            server = self._runner.server
            for conn in server.connections:  # kept-alive ones die with the host
                conn.force_close()
            # ... and are gone before this returns: a client must not reuse one that the loop
            # has not closed yet (it would read a reset, not a refusal).
            deadline = asyncio.get_running_loop().time() + 2.0
            while server.connections and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)

    async def resume_listening(self) -> None:
        if self._site is None:
            await self._listen()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> PeerServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- switching -------------------------------------------------------------------------

    def set_fault(self, fault: Fault, **params: Any) -> None:
        """Switch to ``fault`` now; params override ``FaultState`` fields."""
        self.state = FaultState(fault=fault, **params)

    def heal(self) -> None:
        self.state = FaultState()

    # -- the injection ---------------------------------------------------------------------

    def _active(self) -> Fault:
        st = self.state
        if st.fault is Fault.FLAPPING:
            phase = int((time.monotonic() - st.since) / st.period)
            return Fault.HTML_5XX if phase % 2 == 0 else Fault.NONE
        return st.fault

    def _consume(self) -> None:
        if self.state.times is not None:
            self.state.times -= 1
            if self.state.times <= 0:
                self.heal()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        fault = self._active()
        write = self.style.is_write(request)
        only_writes = fault in (Fault.WRITES_FAIL, Fault.AMBIGUOUS) or self.state.writes_only
        if fault is Fault.NONE or (only_writes and not write):
            return await handler(request)
        st = self.state  # read before consuming: the last of ``times`` heals the switch
        self._consume()
        if fault in (Fault.HTML_5XX, Fault.WRITES_FAIL):
            status = st.status if fault is Fault.HTML_5XX else 503
            body = HTML_502 if status == 502 else HTML_503
            return web.Response(status=status, text=body, content_type="text/html")
        if fault is Fault.JSON_5XX:
            return self.style.json_error(st.status, "Internal server error")
        if fault is Fault.HANG:
            await request.read()
            await asyncio.sleep(3600)
        if fault is Fault.STALL:
            return await _stall_midway(request, await handler(request))
        if fault is Fault.SLOW:
            await asyncio.sleep(st.delay)
            return await handler(request)
        if fault is Fault.RATE_LIMITED:
            return self.style.rate_limited(st.retry_after)
        if fault is Fault.REVOKED:
            return self.style.unauthorized()
        if fault is Fault.RESET:
            return await _reset_midway(request)
        if fault is Fault.AMBIGUOUS:
            await handler(request)  # the platform stores the post...
            _drop(request)  # ...and the answer never arrives
            raise asyncio.CancelledError
        raise AssertionError(f"unhandled fault {fault}")


async def _reset_midway(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    resp.content_length = 4096
    await resp.prepare(request)
    await resp.write(b'{"data": {"id": "')
    _drop(request)
    return resp


async def _stall_midway(request: web.Request, answer: web.StreamResponse) -> web.StreamResponse:
    """The real answer's status and headers, half its body, then nothing more (an edge or
    proxy that stalls: the client waits for bytes that never come)."""
    body = answer.body if isinstance(answer, web.Response) and answer.body else b"{}"
    assert isinstance(body, bytes)
    resp = web.StreamResponse(status=answer.status, headers={"Content-Type": answer.content_type})
    resp.content_length = len(body)
    await resp.prepare(request)
    await resp.write(body[: len(body) // 2])
    await asyncio.sleep(3600)
    return resp


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
