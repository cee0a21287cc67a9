"""Webhook subscribers as the targets of a webhook channel with ``recipients_from =
"subscribers"``. A copy a hook fails to take is kept in the store and sent again on
``[subscribers] hook_retries`` (failover/subscribers/hook_retries.py); a 4xx other than
408/425/429 is not retried. Consecutive failed POSTs are counted, and when a hook reaches
``hook_notice_after`` its contact gets one notice mail (the count then only grows until the
hook works again, so the notice is not repeated)."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence

from channels.base import ChannelError, Post
from channels.webhook_fanout import HookCopy, HookTarget
from failover.retry import hook_decision
from failover.store.base import NewEvent
from failover.subscribers import mail
from failover.subscribers.signup import Subscriptions

log = logging.getLogger("failover.subscribers")
GAVE_UP = "subscriber.hook_gave_up"


class SubscriberHooks:
    """A ``channels.webhook_fanout.HookSource`` over the store, for the channel ``channel``;
    ``wake`` tells the retry loop a copy was queued."""

    def __init__(
        self, subs: Subscriptions, channel: str, wake: Callable[[], None] = lambda: None
    ) -> None:
        self.subs = subs
        self.channel = channel
        self.wake = wake

    async def targets(self, post: Post) -> Sequence[HookTarget]:
        store = self.subs.store
        components = await store.sub_message_components(post.message_id)
        return [
            HookTarget(str(s.id), s.address, s.secret)
            for s in await store.sub_confirmed("webhook")
            if s.wants(components)
        ]

    async def result(self, key: str, error: ChannelError | None, copy: HookCopy) -> None:
        subscriber_id, now = int(key), self.subs.clock.now()
        await record(self.subs, subscriber_id, error, copy.key)
        if error is None:
            return
        schedule = tuple(self.subs.config().subscribers.hook_retries)
        decision = hook_decision(
            error, attempts=1, now=now, schedule=schedule, jitter=random.random()
        )
        if decision.retry_at is not None:
            body = (copy.key, copy.message_id, copy.body)
            store = self.subs.store
            if await store.hook_retry_add(
                subscriber_id, self.channel, body, decision.retry_at, error.reason, now
            ):
                self.wake()
            return
        detail = gave_up(subscriber_id, 1, error, decision.reason)
        event = NewEvent(GAVE_UP, channel=self.channel, message_id=copy.message_id, detail=detail)
        await self.subs.store.add_events([event], now)
        log.warning(
            "webhook subscriber %d: update %d not retried: %s (%s)",
            subscriber_id, copy.message_id, error.reason, decision.reason,
            extra={"event": GAVE_UP, "subscriber": subscriber_id},
        )  # fmt: skip


def gave_up(subscriber_id: int, attempts: int, error: ChannelError, why: str) -> dict[str, object]:
    """The ``subscriber.hook_gave_up`` event's detail (no URL: it may carry a token)."""
    return {
        "subscriber": subscriber_id, "attempts": attempts, "error": error.reason,
        "status": error.status, "why": why,
    }  # fmt: skip


async def record(
    subs: Subscriptions, subscriber_id: int, error: ChannelError | None, copy_key: str | None
) -> None:
    """Count one POST to a hook (a success resets the count; ``copy_key``'s retry is then not
    needed) and tell the hook's contact once it has failed ``hook_notice_after`` times."""
    now = subs.clock.now()
    reason = None if error is None else error.reason
    row = await subs.store.sub_hook_result(subscriber_id, reason, now, copy_key)
    config = subs.config()
    if row is None or reason is None or row.failures != config.subscribers.hook_notice_after:
        return
    sender = mail.mail_channel(config, subs.channels())
    if row.contact_email is None or sender is None:
        log.warning("webhook subscriber %d keeps failing and nobody can be told", row.id)
        return
    raw = mail.hook_notice(
        sender.options.from_address, row.contact_email, row.address, row.failures, reason, now
    )
    try:
        await sender.send_message(row.contact_email, raw)
    except ChannelError as exc:
        log.warning("notice to webhook subscriber %d's contact not sent: %s", row.id, exc.reason)
