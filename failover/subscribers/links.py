"""The secrets in a subscriber's links: the expiring confirmation token and the unsubscribe key.

A confirmation token is ``<subscriber id>.<expiry>.<256 random bits>``; the store keeps only
its SHA-256 and the expiry. The hash is what signs the link: changing the id or the expiry
changes the hash, so the daemon needs no signing key of its own to keep (as API tokens and web
sessions, failover/tokens.py), and a copy of the store confirms nobody. Confirming clears the
hash, so a link works once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from failover.clock import utc

_TOKEN = re.compile(r"^(\d{1,18})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class ParsedToken:
    subscriber_id: int
    expires_at: datetime
    hash: str


def new_token(subscriber_id: int, expires_at: datetime) -> str:
    return f"{subscriber_id}.{int(expires_at.timestamp())}.{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(b"subscribe." + token.encode()).hexdigest()


def parse_token(token: str) -> ParsedToken | None:
    """The token's parts, or None when it is not shaped like one (no store lookup then)."""
    m = _TOKEN.match(token)
    if m is None:
        return None
    return ParsedToken(int(m[1]), utc(float(m[2])), token_hash(token))


def new_unsubscribe_key() -> str:
    return secrets.token_urlsafe(32)


def well_formed_key(key: str) -> bool:
    return bool(_KEY.match(key))


def confirm_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/status/subscribe/confirm?token={quote(token)}"


def unsubscribe_url(base_url: str, key: str) -> str:
    return f"{base_url.rstrip('/')}/status/unsubscribe/{key}"


def unsubscribe_headers(base_url: str, key: str) -> tuple[tuple[str, str], ...]:
    """RFC 8058 one-click unsubscribe: a POST of ``List-Unsubscribe=One-Click`` to the URL."""
    return (
        ("List-Unsubscribe", f"<{unsubscribe_url(base_url, key)}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    )
