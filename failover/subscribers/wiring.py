"""Hands the subscribers to the channels fed by them, at start and after every reload
(an adapter kept across a reload keeps working; a new one gets its source here)."""

from __future__ import annotations

from channels.smtp import EmailChannel
from channels.webhook import WebhookChannel
from failover.live_channels import ChannelSet
from failover.subscribers.hooks import SubscriberHooks
from failover.subscribers.recipients import SubscriberRecipients
from failover.subscribers.signup import Subscriptions


def attach(channels: ChannelSet, subs: Subscriptions) -> list[str]:
    """Give every channel with ``recipients_from = "subscribers"`` its source; returns
    their names."""
    recipients = SubscriberRecipients(subs.store, subs.clock, subs.base_url)
    hooks = SubscriberHooks(subs)
    names = []
    for live in channels.all():
        adapter = live.adapter
        if isinstance(adapter, EmailChannel) and adapter.options.recipients_from:
            adapter.source = recipients
        elif isinstance(adapter, WebhookChannel) and adapter.options.recipients_from:
            adapter.source = hooks
        else:
            continue
        names.append(live.name)
    return names
