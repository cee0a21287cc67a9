"""Signed requests to other fediverse servers: one POST of an activity to one inbox, and
GETs of remote actors and keys (signed too, for servers in authorized-fetch mode).

Answers become the adapter errors the core understands. Like Mastodon, only 401, 408 and
429 among the 4xx are worth retrying; any other 4xx is permanent for that inbox.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from channels.activitypub.documents import ACTIVITY_JSON
from channels.activitypub.signatures import sign
from channels.base import PermanentError, RateLimitedError, TransientError
from channels.http import network_errors, retry_after

ACCEPT = f'{ACTIVITY_JSON}, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
RETRYABLE_4XX = frozenset({401, 408, 429})
MAX_DOCUMENT = 1024 * 1024


class FetchError(ValueError):
    """A remote document could not be had; ``status`` is the HTTP answer if there was one."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    private_pem: str


async def post_activity(
    session: aiohttp.ClientSession, inbox: str, body: bytes, key: SigningKey, now: datetime
) -> int:
    """POST ``body`` to ``inbox``; the HTTP status on success, else a ChannelError."""
    headers = sign(
        "POST",
        inbox,
        {"content-type": ACTIVITY_JSON, "accept": ACTIVITY_JSON},
        key_id=key.key_id,
        private_pem=key.private_pem,
        now=now,
        body=body,
    )
    with network_errors("the inbox", write=True):
        async with session.post(inbox, data=body, headers=headers, allow_redirects=False) as resp:
            await resp.read()
            status, answered = resp.status, resp.headers
    if 200 <= status < 300:
        return status
    raise _error(status, answered)


async def fetch_document(
    session: aiohttp.ClientSession, url: str, key: SigningKey, now: datetime
) -> dict[str, Any]:
    """A signed GET of an ActivityPub document (an actor or a key); FetchError if unusable."""
    headers = sign(
        "GET", url, {"accept": ACCEPT}, key_id=key.key_id, private_pem=key.private_pem, now=now
    )
    try:
        async with session.get(url, headers=headers) as resp:
            if resp.status != 200:
                raise FetchError(f"GET {url}: HTTP {resp.status}", resp.status)
            raw = await resp.content.read(MAX_DOCUMENT + 1)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise FetchError(f"GET {url}: {type(exc).__name__}") from None
    if len(raw) > MAX_DOCUMENT:
        raise FetchError(f"GET {url}: document larger than {MAX_DOCUMENT} bytes")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise FetchError(f"GET {url}: not JSON") from None
    if not isinstance(doc, dict):
        raise FetchError(f"GET {url}: not a JSON object")
    return doc


def _error(status: int, headers: Mapping[str, str]) -> Exception:
    if status == 429:
        wait = retry_after(headers, 60.0)
        return RateLimitedError(f"HTTP {status}", retry_after=wait, status=status)
    if 400 <= status < 500 and status not in RETRYABLE_4XX:
        return PermanentError(f"HTTP {status}", status=status)
    return TransientError(f"HTTP {status}", status=status)
