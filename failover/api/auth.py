"""Bearer tokens with roles. Every API handler states the role it needs.

Failed authentications are throttled per client address (failover/api/throttle.py); the
address is the peer's, or the one ``X-Forwarded-For`` names when the peer is one of
``api.trusted_proxies``.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence

from aiohttp import web

from failover.api.context import CONTEXT
from failover.api.problems import problem
from failover.api.throttle import AuthThrottle
from failover.model import Role, Token
from failover.tokens import token_hash, well_formed


class Denied(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


THROTTLE: web.AppKey[AuthThrottle] = web.AppKey("auth_throttle", AuthThrottle)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(request: web.Request) -> str:
    """Who is asking: the peer, or the first address left of our trusted proxies in
    ``X-Forwarded-For`` when the peer is a trusted proxy (anything else could be forged)."""
    proxies = request.app[CONTEXT].config().api.trusted_proxies
    peer = request.remote or "unknown"
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for v in request.headers.getall("X-Forwarded-For", []) for h in v.split(",")]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop if _is_ip(hop) else peer
    return peer


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in proxies)


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def refusal(request: web.Request, client: str) -> web.Response:
    """What a failed authentication gets: 401, or 429 once the address is over budget."""
    wait = request.app[THROTTLE].retry_after(client)
    if wait <= 0:
        return problem(401, "Unauthorized", "the token is unknown or revoked")
    response = problem(429, "Too many failed authentications", f"try again in {math.ceil(wait)} s")
    response.headers["Retry-After"] = str(math.ceil(wait))
    return response


async def token_for(request: web.Request, secret: str) -> Token | None:
    """The live token for ``secret``, or None. The attempt counts as a failure from the
    start (a concurrent burst is throttled) and is forgiven only if the token is valid."""
    ctx = request.app[CONTEXT]
    throttle = request.app[THROTTLE]
    client = client_address(request)
    attempt = throttle.begin(client)
    if not well_formed(secret):
        return None
    async with throttle.gate(client):
        token = await ctx.store.token_by_hash(token_hash(secret), ctx.clock.now())
    if token is not None:
        throttle.succeeded(attempt)
    return token


async def require(request: web.Request, role: Role) -> Token:
    """The caller's token if it has at least ``role``; raises Denied with a 401/403/429."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Denied(
            problem(401, "Unauthorized", "send an API token: Authorization: Bearer <token>")
        )
    token = await token_for(request, value.strip())
    if token is None:
        raise Denied(refusal(request, client_address(request)))
    return check_role(token, role)


def check_role(token: Token, role: Role) -> Token:
    if token.role < role:
        raise Denied(
            problem(
                403,
                "Forbidden",
                f"this needs the {role.label} role; the token has {token.role.label}",
            )
        )
    return token


@web.middleware
async def denied_middleware(request: web.Request, handler: object) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)  # type: ignore[operator]
        return response
    except Denied as exc:
        return exc.response
