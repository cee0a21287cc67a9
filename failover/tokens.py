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

PREFIX = "fo_"
_SHAPE = re.compile(r"^fo_[A-Za-z0-9_-]{43}$")


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def well_formed(token: str) -> bool:
    """The shape every token has; anything else is refused without a store lookup."""
    return bool(_SHAPE.match(token))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
