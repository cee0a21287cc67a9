"""API tokens this store has looked up lately, so an API request costs no store read.

A token found is kept ``TTL`` (measured on the caller's clock, the ``now`` it passes). A token
revoked through this store object is forgotten at once. One revoked anywhere else (another
daemon of a cluster, or ``failover token revoke`` on the command line) goes on working here
for at most ``TTL``: that is the bound, and the price of not reading the store per request.
Only hits are kept, never a miss, so a token created elsewhere works at its first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from failover.model import Token

TTL = timedelta(seconds=5)
MAX_ENTRIES = 1000  # tokens are few; the bound only keeps a flood of them from growing memory


@dataclass
class _Entry:
    token: Token
    read_at: datetime


class TokenCache:
    def __init__(self, ttl: timedelta = TTL, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, _Entry] = {}  # token hash -> the row as read
        # Bumped by every forget: a read that began before a revocation must not be kept,
        # or it would bring the revoked token back for a whole TTL.
        self.generation = 0

    def get(self, token_hash: str, now: datetime) -> Token | None:
        """The token read under ``TTL`` ago, or None (then read the store)."""
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if not entry.read_at <= now < entry.read_at + self.ttl:  # a clock set back: read again
            del self._entries[token_hash]
            return None
        return entry.token

    def put(self, token_hash: str, token: Token, read_at: datetime, generation: int) -> None:
        """Keep a live token read at ``read_at``, unless a forget came since ``generation``
        (the value of ``generation`` when the read began)."""
        if generation != self.generation or token.revoked_at is not None:
            return
        if len(self._entries) >= self.max_entries:
            self._entries = {
                h: e for h, e in self._entries.items() if read_at < e.read_at + self.ttl
            }
            while len(self._entries) >= self.max_entries:  # all fresh: drop the oldest
                del self._entries[next(iter(self._entries))]
        self._entries[token_hash] = _Entry(token, read_at)

    def used(self, token_hash: str, token: Token) -> None:
        """Replace a kept token by its copy with a new last use (its read time stays)."""
        entry = self._entries.get(token_hash)
        if entry is not None and entry.token.id == token.id:
            entry.token = token

    def forget(self, token_id: int) -> None:
        """A token revoked (or changed) through this store: never served from here again."""
        self.generation += 1
        self._entries = {h: e for h, e in self._entries.items() if e.token.id != token_id}
