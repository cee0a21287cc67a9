"""Recipients handed to a channel at send time by the core (e.g. a status page's subscribers).

The channel knows nothing of where they come from: the core attaches a ``RecipientSource`` to
the adapter, and the adapter asks it for the recipients of each post and tells it which
addresses the server refused for good (so the core can stop mailing them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from channels.base import Post


@dataclass(frozen=True)
class Recipient:
    """One address and the header lines only its copy carries (its own unsubscribe link)."""

    address: str
    headers: tuple[tuple[str, str], ...] = ()

    def header_bytes(self) -> bytes:
        """The extra header lines, prepended to the shared message; CR/LF in a value cannot
        start a new header."""
        lines = []
        for name, value in self.headers:
            flat = " ".join(value.replace("\r", " ").replace("\n", " ").split())
            lines.append(f"{name}: {flat}\r\n")
        return "".join(lines).encode("utf-8")


class RecipientSource(Protocol):
    async def recipients(self, post: Post) -> Sequence[Recipient]:
        """Who gets this post, now (asked on every attempt)."""

    async def refused(self, address: str, reason: str) -> None:
        """The server refused ``address`` for good (5xx at RCPT): do not send to it again."""
