"""The confirmed subscribers as the recipients of an email channel with
``recipients_from = "subscribers"``: filtered by the components of the incident a message
belongs to, each with their own one-click unsubscribe headers; hard bounces suppressed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from channels.base import Post
from channels.recipients import Recipient
from failover.clock import Clock
from failover.store.base import Store
from failover.subscribers import links

log = logging.getLogger("failover.subscribers")


class SubscriberRecipients:
    """A ``channels.recipients.RecipientSource`` over the store."""

    def __init__(self, store: Store, clock: Clock, base_url: Callable[[], str]) -> None:
        self.store, self.clock, self.base_url = store, clock, base_url

    async def recipients(self, post: Post) -> Sequence[Recipient]:
        components = await self.store.sub_message_components(post.message_id)
        base = self.base_url()
        return [
            Recipient(s.address, links.unsubscribe_headers(base, s.unsubscribe_key))
            for s in await self.store.sub_confirmed("email")
            if s.wants(components)
        ]

    async def refused(self, address: str, reason: str) -> None:
        if await self.store.sub_suppress(address, reason, self.clock.now()):
            log.warning("subscriber address suppressed after a hard bounce: %s", reason)
