"""Hands the subscribers to the channels fed by them, at start and after every reload
(an adapter kept across a reload keeps working; a new one gets its source here)."""

from __future__ import annotations

from collections.abc import Callable

from channels.smtp import EmailChannel
from channels.webhook import WebhookChannel
from failover.live_channels import ChannelSet
from failover.subscribers.hooks import SubscriberHooks
from failover.subscribers.recipients import SubscriberRecipients
from failover.subscribers.signup import Subscriptions


def attach(
    channels: ChannelSet, subs: Subscriptions, wake: Callable[[], None] = lambda: None
) -> list[str]:
    """Give every channel with ``recipients_from = "subscribers"`` its source; returns
    their names. ``wake`` tells the webhook retry loop that a missed copy was queued."""
    recipients = SubscriberRecipients(subs.store, subs.clock, subs.base_url)
    names = []
    for live in channels.all():
        adapter = live.adapter
        if isinstance(adapter, EmailChannel) and adapter.options.recipients_from:
            adapter.source = recipients
        elif isinstance(adapter, WebhookChannel) and adapter.options.recipients_from:
            adapter.source = SubscriberHooks(subs, live.name, wake)
        else:
            continue
        names.append(live.name)
    return names
