"""Channel type name -> adapter class, for built-ins and third-party entry points.

Built-in adapters are imported lazily so that a missing optional dependency of one adapter
cannot stop the daemon from using the others. Third parties register a type in the
``failover.channels`` entry point group: ``mytype = "mypkg.module:MyAdapter"``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import cast

from channels.base import Channel

ENTRY_POINT_GROUP = "failover.channels"

BUILTIN: dict[str, str] = {
    "feed": "channels.feed:FeedChannel",
    "webhook": "channels.webhook:WebhookChannel",
    "x": "channels.x:XChannel",
    "mastodon": "channels.fediverse:MastodonChannel",
    "bluesky": "channels.bluesky:BlueskyChannel",
    "email": "channels.smtp:EmailChannel",
    "slack": "channels.slack:SlackChannel",
    "apprise": "channels.apprise_urls:AppriseChannel",
    "activitypub": "channels.activitypub.channel:ActivityPubChannel",
}


class UnknownChannelType(LookupError):
    """No built-in adapter or installed entry point has this type name."""


def known_types() -> list[str]:
    """All type names that can be configured, built-in first."""
    names = list(BUILTIN)
    names += sorted(
        ep.name for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in BUILTIN
    )
    return names


def adapter_class(type_name: str) -> type[Channel]:
    """Import and return the adapter class for ``type_name``."""
    target = BUILTIN.get(type_name)
    if target is None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name == type_name:
                return cast("type[Channel]", ep.load())
        raise UnknownChannelType(
            f"unknown channel type {type_name!r}; known types: {', '.join(known_types())}"
        )
    module_name, _, class_name = target.partition(":")
    module = importlib.import_module(module_name)
    return cast("type[Channel]", getattr(module, class_name))
