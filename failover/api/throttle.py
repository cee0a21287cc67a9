"""Slowing down repeated failed authentications, per client address.

Tokens carry 256 bits, so guessing is hopeless anyway; the throttle keeps a misconfigured
client or a scanner from turning every request into a store lookup and fills no log."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field

FREE_FAILURES = 5  # failures allowed per window before a client must wait
WINDOW = 60.0  # seconds
MAX_CLIENTS = 10_000  # remembered addresses (oldest forgotten first)


@dataclass
class AuthThrottle:
    free: int = FREE_FAILURES
    window: float = WINDOW
    _failures: OrderedDict[str, list[float]] = field(default_factory=OrderedDict)

    def retry_after(self, client: str, now: float | None = None) -> float:
        """Seconds ``client`` must wait before its next attempt (0: go ahead)."""
        now = time.monotonic() if now is None else now
        recent = [t for t in self._failures.get(client, []) if now - t < self.window]
        if len(recent) < self.free:
            return 0.0
        # Each failure past the free ones doubles the wait, up to the window.
        wait = min(self.window, 2.0 ** (len(recent) - self.free))
        return max(0.0, recent[-1] + wait - now)

    def failed(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        recent = [t for t in self._failures.pop(client, []) if now - t < self.window]
        self._failures[client] = [*recent, now]
        while len(self._failures) > MAX_CLIENTS:
            self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)
