"""Slowing down repeated failed authentications, per client address.

What it promises (docs/security.md):

- A valid token is never refused because of other clients' failures: the throttle only
  decides what a *failed* attempt gets (401, or 429 with ``Retry-After`` once the address
  is over its budget). A client whose address is over budget is still looked up, one
  lookup at a time per address, so a flood costs one store read at a time, not hundreds.
- Failures are counted before the lookup is awaited: every attempt is recorded as a failure
  when it starts and forgiven only if it succeeds, so a concurrent burst is throttled too.
- A success forgives its own attempt only; it never resets the address's count.

Tokens carry 256 bits, so guessing is hopeless anyway; the throttle keeps a misconfigured
client or a scanner from turning every request into a store lookup and fills no log.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

FREE_FAILURES = 5  # failures allowed per window before a client must wait
WINDOW = 60.0  # seconds
MAX_CLIENTS = 10_000  # remembered addresses (oldest forgotten first)


@dataclass
class Attempt:
    """One authentication in progress: counted as a failure until it succeeds."""

    client: str
    at: float
    ok: bool = False


@dataclass
class AuthThrottle:
    free: int = FREE_FAILURES
    window: float = WINDOW
    _failures: OrderedDict[str, list[float]] = field(default_factory=OrderedDict)
    _gates: dict[str, _Gate] = field(default_factory=dict)

    def retry_after(self, client: str, now: float | None = None) -> float:
        """Seconds ``client`` must wait before a failed attempt is answered 401 again."""
        now = time.monotonic() if now is None else now
        recent = [t for t in self._failures.get(client, []) if now - t < self.window]
        if len(recent) <= self.free:
            return 0.0
        # Each failure past the free ones doubles the wait, up to the window.
        wait = min(self.window, 2.0 ** (len(recent) - self.free - 1))
        return max(0.0, recent[-1] + wait - now)

    def begin(self, client: str, now: float | None = None) -> Attempt:
        """Record an attempt as failed *now*, before anything is awaited."""
        now = time.monotonic() if now is None else now
        recent = [t for t in self._failures.pop(client, []) if now - t < self.window]
        self._failures[client] = [*recent, now]
        while len(self._failures) > MAX_CLIENTS:
            self._failures.popitem(last=False)
        return Attempt(client, now)

    def succeeded(self, attempt: Attempt) -> None:
        """Forgive this attempt only; the client's other failures stay counted."""
        stamps = self._failures.get(attempt.client)
        if stamps and attempt.at in stamps:
            stamps.remove(attempt.at)
        attempt.ok = True

    @asynccontextmanager
    async def gate(self, client: str) -> AsyncIterator[None]:
        """One lookup at a time for an address over its budget; other addresses pass."""
        gate = self._gates.get(client)
        if gate is None:
            if self.retry_after(client) <= 0:
                yield
                return
            gate = self._gates[client] = _Gate()
        gate.users += 1
        try:
            async with gate.lock:
                yield
        finally:
            gate.users -= 1
            if gate.users == 0:
                self._gates.pop(client, None)


@dataclass
class _Gate:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
