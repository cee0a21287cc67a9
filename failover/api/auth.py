"""Bearer tokens with roles. Every API handler states the role it needs."""

from __future__ import annotations

import math

from aiohttp import web

from failover.api.context import CONTEXT
from failover.api.problems import problem
from failover.api.throttle import AuthThrottle
from failover.model import Role, Token
from failover.tokens import token_hash


class Denied(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


THROTTLE: web.AppKey[AuthThrottle] = web.AppKey("auth_throttle", AuthThrottle)


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


def throttled(request: web.Request) -> web.Response | None:
    """A 429 problem when this client failed to authenticate too often, else None."""
    wait = request.app[THROTTLE].retry_after(client_address(request))
    if wait <= 0:
        return None
    response = problem(429, "Too many failed authentications", f"try again in {math.ceil(wait)} s")
    response.headers["Retry-After"] = str(math.ceil(wait))
    return response


async def token_for(request: web.Request, secret: str) -> Token | None:
    """The live token for ``secret``; failures count toward the client's throttle."""
    ctx = request.app[CONTEXT]
    token = await ctx.store.token_by_hash(token_hash(secret), ctx.clock.now())
    if token is None:
        request.app[THROTTLE].failed(client_address(request))
    else:
        request.app[THROTTLE].succeeded(client_address(request))
    return token


async def require(request: web.Request, role: Role) -> Token:
    """The caller's token if it has at least ``role``; raises Denied with a 401/403 problem."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Denied(
            problem(401, "Unauthorized", "send an API token: Authorization: Bearer <token>")
        )
    if (slow := throttled(request)) is not None:
        raise Denied(slow)
    token = await token_for(request, value.strip())
    if token is None:
        raise Denied(problem(401, "Unauthorized", "the token is unknown or revoked"))
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
