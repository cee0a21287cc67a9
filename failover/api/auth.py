"""Bearer tokens with roles. Every API handler states the role it needs."""

from __future__ import annotations

from aiohttp import web

from failover.api.context import CONTEXT
from failover.api.problems import problem
from failover.model import Role, Token
from failover.tokens import token_hash


class Denied(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


async def require(request: web.Request, role: Role) -> Token:
    """The caller's token if it has at least ``role``; raises Denied with a 401/403 problem."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Denied(
            problem(401, "Unauthorized", "send an API token: Authorization: Bearer <token>")
        )
    ctx = request.app[CONTEXT]
    token = await ctx.store.token_by_hash(token_hash(value.strip()), ctx.clock.now())
    if token is None:
        raise Denied(problem(401, "Unauthorized", "the token is unknown or revoked"))
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
