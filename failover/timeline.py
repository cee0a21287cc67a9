"""The timeline in sentences ("Posted on Mastodon", "X is down: 3 failed checks"), with
channels by display name; the technical detail stays available behind a disclosure."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from failover.startup import short_reason

Label = Callable[[str | None], str]
_FAILURES = re.compile(r"^(\d+) failures in a row")
_RATE = re.compile(r"^send error rate (\d+%)")


def who(actor: str | None) -> str:
    """ "web:alice" / "token:alice" / "cli:root" -> "alice" (how actors are stored)."""
    return (actor or "someone").split(":", 1)[-1]


def why_down(reason: str | None) -> str:
    """A health reason in a few words: "3 failed checks", "60% of posts failed"."""
    reason = reason or ""
    if m := _FAILURES.match(reason):
        return f"{m[1]} failed checks in a row"
    if m := _RATE.match(reason):
        return f"{m[1]} of recent posts failed"
    if reason.startswith("failed again on probation"):
        return "failed again right after coming back"
    if reason.startswith("forced"):
        return "turned off by an operator"
    return short_reason(reason.split(" — ")[-1], 60) or "no reason given"


def _names(label: Label, channels: list[str] | None) -> str:
    return ", ".join(label(c) for c in channels or []) or "no channel"


def _delivery(kind: str, ch: str, d: dict[str, Any]) -> str | None:
    error = short_reason(d.get("error") or d.get("why") or d.get("reason"), 80)
    return {
        "delivery.delivered": f"Posted on {ch}",
        "delivery.failed": f"{ch} refused it: {error}",
        "delivery.dead": f"Gave up on {ch} after {d.get('attempts', 'several')} tries: {error}",
        "delivery.expired": f"Not sent on {ch}: it expired first",
        "delivery.missed": f"Not sent on {ch}: too late ({error})",
        "delivery.cancelled": f"Stopped on {ch} (it had not been sent)",
        "delivery.skipped": f"Skipped {ch}: {error}",
        "delivery.retracted": f"Taken down from {ch}",
        "delivery.retract_failed": f"Could not take it down from {ch}: {error}",
        "delivery.retract_impossible": f"Still up on {ch}: {error}",
    }.get(kind)


def sentence(event: dict[str, Any], label: Label) -> str:
    """One plain sentence for an event."""
    kind, d = event["kind"], event.get("detail") or {}
    ch = label(event.get("channel"))
    if kind.startswith("delivery.") and (said := _delivery(kind, ch, d)):
        return said
    if kind == "message.accepted":
        line = f"Accepted for {_names(label, d.get('channels'))}"
        skipped = d.get("skipped") or {}
        if skipped:
            line += "; skipped " + "; ".join(
                f"{label(c)} ({short_reason(why, 50)})" for c, why in skipped.items()
            )
        return line
    if kind == "message.rerouted":
        went = _names(label, d.get("to"))
        reason = str(d.get("reason") or "")
        cause = f"{label(d.get('from'))} is down" if " is down" in reason else (
            f"{label(d.get('from'))} failed"
        )  # fmt: skip
        return f"Moved to the next channels ({went}): {cause}"
    if kind == "message.escalated":
        reason = d.get("reason") or "not confirmed in time"
        return f"Also sent on {_names(label, d.get('to'))}: {reason}"
    if kind == "channel.down":
        return f"{ch} is down: {why_down(d.get('reason'))}"
    if kind == "channel.up":
        return f"{ch} is back up" if d.get("from") == "down" else f"{ch} is up"
    if kind == "channel.degraded":
        return f"{ch} is unreliable: {why_down(d.get('reason'))}"
    if kind == "channel.stable":
        return f"{ch} stayed up after coming back: back to normal"
    if kind == "channel.forced":
        if d.get("state") == "auto":
            return f"{who(event.get('actor'))} handed {ch} back to automatic health checks"
        return f"{who(event.get('actor'))} marked {ch} as {d.get('state')} by hand"
    if kind == "subscriber.hook_gave_up":
        tries = d.get("attempts", "several")
        return f"Gave up on webhook subscriber {d.get('subscriber')} after {tries} tries: {d.get('error')}"
    simple = {
        "message.cancelled": f"Cancelled: stopped what was pending on {_names(label, d.get('channels'))}",
        "message.edited": f"Edited by {who(event.get('actor'))}",
        "announce.down": f"Outage announcement posted about {ch}",
        "announce.up": f"Recovery announcement posted about {ch}",
        "daemon.started": "failover started",
        "daemon.stopped": "failover stopped",
        "config.reloaded": "Configuration reloaded",
        "config.reload_refused": "A changed configuration was refused; the old one stays",
        "cluster.leader": "This daemon now runs the health checks",
        "token.created": f"API token created by {who(event.get('actor'))}",
        "token.revoked": f"API token revoked by {who(event.get('actor'))}",
    }
    if kind in simple:
        return simple[kind]
    return f"{kind.replace('.', ' ').replace('_', ' ').capitalize()}" + (
        f" ({ch})" if event.get("channel") else ""
    )


def details(event: dict[str, Any]) -> str:
    """The event's recorded detail, for the "details" disclosure (empty when there is none)."""
    d = event.get("detail") or {}
    if not d:
        return ""
    return json.dumps(d, indent=1, ensure_ascii=False, default=str)
