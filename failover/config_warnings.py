"""What `check-config` warns about: a config that is valid but would mislead at incident time.

Warnings, not errors (the daemon runs), because each is a choice someone may have made on
purpose; but each one is how an outage goes wrong in front of customers or operators.
"""

from __future__ import annotations

import string

from failover.config import Config


def incident_warnings(config: Config) -> list[str]:
    return _feed_url_warnings(config) + _alerts_warnings(config)


def _feed_url_warnings(config: Config) -> list[str]:
    """An announcement pointing customers to ``{feed_url}`` needs an address they can reach."""
    has_feed = any(c.type == "feed" and c.available for c in config.channels.values())
    out = []
    for name, route in config.routes.items():
        for which in ("down", "up"):
            template = getattr(route.announce, which)
            if not template or "feed_url" not in _fields(template):
                continue
            key = f"routes.{name}.announce.{which}"
            if not has_feed:
                out.append(f"{key} uses {{feed_url}} but no feed channel is available: it is empty")
            elif config.api.public_url is None:
                out.append(
                    f"{key} uses {{feed_url}} but api.public_url is not set: customers would be "
                    f"sent to http://{config.api.listen}/status/, which they cannot reach"
                )
    return out


def _alerts_warnings(config: Config) -> list[str]:
    """Operators must hear of an outage through something that works."""
    if not config.alerts.channels:
        return ["alerts: no channel is listed: operators will not hear of outages"]
    usable = [
        c for c in config.alerts.channels if c in config.channels and config.channels[c].available
    ]
    if not usable:
        return [
            f"alerts: none of {', '.join(config.alerts.channels)} is usable (missing secrets or "
            "disabled): operators will not hear of outages"
        ]
    return []


def _fields(template: str) -> set[str]:
    try:
        return {field for _, field, _, _ in string.Formatter().parse(template) if field}
    except ValueError:
        return set()
