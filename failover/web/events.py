"""One readable line per event for the failover timeline."""

from __future__ import annotations

from typing import Any


def summary(event: dict[str, Any]) -> str:
    kind, d = event["kind"], event.get("detail") or {}
    ch = event.get("channel")
    if kind == "message.accepted":
        line = f"accepted for {', '.join(d.get('channels') or []) or 'no channel'}"
        skipped = d.get("skipped") or {}
        if skipped:
            line += "; skipped " + "; ".join(f"{c} ({why})" for c, why in skipped.items())
        return line
    if kind == "message.rerouted":
        return f"rerouted from {d.get('from', ch)} to {', '.join(d.get('to') or []) or '?'}"
    if kind == "message.escalated":
        to = ", ".join(d.get("to") or []) or "?"
        return f"also sent to {to}: {d.get('reason') or 'not confirmed in time'}"
    if kind in ("channel.up", "channel.down", "channel.degraded", "channel.stable"):
        return f"{ch}: {d.get('from', '?')} → {d.get('to', '?')} ({d.get('reason') or 'no reason given'})"
    if kind == "channel.forced":
        return f"{ch} forced {d.get('state')} by {event.get('actor')}"
    if kind == "delivery.delivered":
        return f"delivered on {ch}" + (f": {d['url']}" if d.get("url") else "")
    if kind.startswith("delivery.") and d.get("error"):
        return f"{ch}: {d.get('error') or kind}"
    if kind == "delivery.skipped":
        return f"{ch} skipped: {d.get('reason') or d.get('why') or ''}".rstrip(": ")
    if kind == "message.cancelled":
        return f"cancelled on {', '.join(d.get('channels') or [])}"
    if kind.startswith("announce."):
        return f"{kind.split('.')[1]} announcement for {ch}"
    rest = ", ".join(f"{k}={v}" for k, v in d.items() if not isinstance(v, dict | list))
    return f"{ch + ': ' if ch else ''}{rest}"
