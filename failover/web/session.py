"""Web sessions: a signed cookie opened by logging in with an API token, and CSRF tokens.

The cookie names the token and an expiry, signed with HMAC keyed by the token's stored hash:
nothing to keep per daemon (any daemon sharing the store accepts it), and revoking the token
ends its sessions. The CSRF token is derived from the session the same way and must come
back with every state-changing request, as a form field or an ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from aiohttp import web

from failover.api.context import CONTEXT
from failover.model import Token

COOKIE = "failover_session"
LOGIN_COOKIE = "failover_login"  # double-submit token for the login form itself
LIFETIME = 12 * 3600  # seconds


@dataclass(frozen=True)
class Session:
    token: Token
    csrf: str


def _sign(key: str, payload: str) -> str:
    return hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()


def cookie_value(token: Token, key: str, now: float | None = None) -> str:
    expires = int((now or time.time()) + LIFETIME)
    payload = f"{token.id}.{expires}"
    return f"{payload}.{_sign(key, 'session.' + payload)}"


def set_session(response: web.StreamResponse, request: web.Request, value: str) -> None:
    response.set_cookie(
        COOKIE, value, max_age=LIFETIME, path="/", httponly=True, samesite="Strict",
        secure=request.secure,
    )  # fmt: skip


def clear_session(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")


async def current(request: web.Request) -> Session | None:
    """The request's valid session, or None (missing, forged, expired, token revoked)."""
    raw = request.cookies.get(COOKIE, "")
    parts = raw.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    token_id, expires, signature = int(parts[0]), int(parts[1]), parts[2]
    if expires < time.time():
        return None
    found = await request.app[CONTEXT].store.token_signing_key(token_id)
    if found is None:
        return None
    token, key = found
    payload = f"{token_id}.{expires}"
    if not hmac.compare_digest(signature, _sign(key, "session." + payload)):
        return None
    return Session(token=token, csrf=_sign(key, "csrf." + payload)[:40])


def csrf_ok(session: Session, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(sent, session.csrf)


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)
