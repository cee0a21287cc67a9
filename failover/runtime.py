"""The daemon's current configuration as one immutable object, swapped whole on reload.

Everything that depends on the config file (the config itself, the live channels, the intake
that routes by them) changes together: the daemon builds a new ``Runtime`` and replaces the
old one in a single assignment, and collaborators read it through the getter they were given
once. No one holds a copy that a reload would have to overwrite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from failover.config import Config, RouteConfig
from failover.intake import Intake
from failover.live_channels import ChannelSet


@dataclass(frozen=True)
class Runtime:
    config: Config
    channels: ChannelSet
    intake: Intake

    @property
    def routes(self) -> dict[str, RouteConfig]:
        return self.config.routes

    def public_dir(self) -> Path | None:
        """The feed channel's directory, served at /status/; None without a feed channel."""
        for live in self.channels.all():
            if live.config.type == "feed" and live.adapter is not None:
                directory = getattr(live.adapter, "directory", None)
                if isinstance(directory, Path):
                    return directory
        return None

    def feed_url(self) -> str | None:
        """The public page's address, as announcements link to it."""
        if self.public_dir() is None:
            return None
        base = self.config.api.public_url or f"http://{self.config.api.listen}"
        return f"{base.rstrip('/')}/status/"


RuntimeGetter = Callable[[], Runtime]


def secret_values(config: Config) -> list[str]:
    """Every secret ``config`` holds, so the logs can mask them."""
    values: list[str] = list(config.secret_values)  # whatever came from a reference
    for ch in config.channels.values():
        if ch.options is None:
            continue
        for name in type(ch.options).model_fields:
            value = getattr(ch.options, name)
            items = value if isinstance(value, list) else [value]
            values += [v.get_secret_value() for v in items if isinstance(v, SecretStr)]
    return values
