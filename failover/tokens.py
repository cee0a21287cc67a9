"""API tokens: random, shown once, stored only as a SHA-256 hash.

Tokens carry 256 bits of randomness, so a fast hash is enough (no password stretching):
guessing is hopeless, and a leaked database reveals no usable token. Web sessions follow
the same rule (failover/web/session.py): the store holds hashes only, never anything that
signs or opens a session.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from failover.errors import InvalidInput

if TYPE_CHECKING:
    from failover.model import Role, Token
    from failover.store.base import Store

PREFIX = "fo_"
_SHAPE = re.compile(r"^fo_[A-Za-z0-9_-]{43}$")


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def well_formed(token: str) -> bool:
    """The shape every token has; anything else is refused without a store lookup."""
    return bool(_SHAPE.match(token))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def valid_name(name: object) -> str:
    """The stripped name, or InvalidInput: one rule for the CLI, the API and the web UI."""
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100 or not name.isprintable():
        raise InvalidInput("name", "must be 1 to 100 printable characters")
    return name.strip()


async def issue(
    store: Store, name: str, role: Role, created_by: str, now: datetime
) -> tuple[Token, str]:
    """Store a new token and return it with its secret, which exists only in this return value."""
    secret = new_token()
    token = await store.create_token(valid_name(name), role, token_hash(secret), created_by, now)
    return token, secret


def same(a: str, b: str) -> bool:
    """Constant-time equality of any two strings, whatever characters a client sent."""
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))
