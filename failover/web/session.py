"""Web sessions, kept in the store, and CSRF tokens.

Logging in with an API token opens a session: the cookie carries 256 random bits, the store
keeps only their SHA-256 with the token, the creation time and an expiry the server sets
(``LIFETIME``, never extended, whatever the client sends). So a copy of the store opens
nothing; logging out deletes the session; revoking the token deletes all of its sessions; and
every daemon sharing the store sees the same sessions. The CSRF token is derived from the
cookie's secret, which the store does not have, and must come back with every
state-changing request, as a form field or an ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from failover.api.context import CONTEXT
from failover.model import Token
from failover.store.base import WebSession
from failover.tokens import same

COOKIE = "failover_session"
LOGIN_COOKIE = "failover_login"  # double-submit token for the login form itself
LIFETIME = 12 * 3600  # seconds, from login; a session is never extended
_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Session:
    id: int
    token: Token
    csrf: str


def session_hash(secret: str) -> str:
    return hashlib.sha256(b"session." + secret.encode()).hexdigest()


async def open_session(request: web.Request, token: Token) -> str:
    """Store a new session for ``token``; return the cookie value (shown to nobody else)."""
    ctx = request.app[CONTEXT]
    secret = secrets.token_urlsafe(32)
    now = ctx.clock.now()
    agent = request.headers.get("User-Agent", "")[:200] or None
    await ctx.store.create_session(
        token.id, session_hash(secret), agent, now, now + timedelta(seconds=LIFETIME)
    )
    return secret


def set_session(response: web.StreamResponse, request: web.Request, value: str) -> None:
    response.set_cookie(
        COOKIE, value, max_age=LIFETIME, path="/", httponly=True, samesite="Strict",
        secure=request.secure,
    )  # fmt: skip


def clear_session(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")


async def current(request: web.Request) -> Session | None:
    """The request's live session, or None (missing, malformed, unknown, expired, ended,
    or its token revoked). A malformed cookie costs no store lookup."""
    secret = request.cookies.get(COOKIE, "")
    if not _SHAPE.match(secret):
        return None
    ctx = request.app[CONTEXT]
    found: WebSession | None = await ctx.store.session_by_hash(
        session_hash(secret), ctx.clock.now()
    )
    if found is None:
        return None
    return Session(id=found.id, token=found.token, csrf=_csrf(secret))


def _csrf(secret: str) -> str:
    return hmac.new(secret.encode(), b"csrf", hashlib.sha256).hexdigest()[:40]


def csrf_ok(session: Session, sent: str | None) -> bool:
    return sent is not None and same(sent, session.csrf)


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)
