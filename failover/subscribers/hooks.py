"""Webhook subscribers as the targets of a webhook channel with ``recipients_from =
"subscribers"``; consecutive failures are counted, and when a hook reaches
``[subscribers] hook_notice_after`` its contact gets one notice mail (the count then only
grows until the hook works again, so the notice is not repeated)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from channels.base import ChannelError, Post
from channels.webhook_fanout import HookTarget
from failover.subscribers import mail
from failover.subscribers.signup import Subscriptions

log = logging.getLogger("failover.subscribers")


class SubscriberHooks:
    """A ``channels.webhook_fanout.HookSource`` over the store."""

    def __init__(self, subs: Subscriptions) -> None:
        self.subs = subs

    async def targets(self, post: Post) -> Sequence[HookTarget]:
        store = self.subs.store
        components = await store.sub_message_components(post.message_id)
        return [
            HookTarget(str(s.id), s.address, s.secret)
            for s in await store.sub_confirmed("webhook")
            if s.wants(components)
        ]

    async def result(self, key: str, error: str | None) -> None:
        row = await self.subs.store.sub_hook_result(int(key), error, self.subs.clock.now())
        config = self.subs.config()
        if row is None or error is None or row.failures != config.subscribers.hook_notice_after:
            return
        sender = mail.mail_channel(config, self.subs.channels())
        if row.contact_email is None or sender is None:
            log.warning("webhook subscriber %d keeps failing and nobody can be told", row.id)
            return
        raw = mail.hook_notice(
            sender.options.from_address, row.contact_email, row.address, row.failures, error,
            self.subs.clock.now(),
        )  # fmt: skip
        try:
            await sender.send_message(row.contact_email, raw)
        except ChannelError as exc:
            log.warning(
                "notice to webhook subscriber %d's contact not sent: %s", row.id, exc.reason
            )
