"""Domain objects as API JSON. Nothing secret is ever part of these shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from failover.intake import client_key
from failover.live_channels import LiveChannel
from failover.model import ChannelState, Delivery, Event, Message, Token, message_state
from failover.store.base import QueueStats, WebSession


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def web_url(url: str | None) -> str | None:
    """A platform's answer becomes a link only if it is http(s) (never ``javascript:``)."""
    if url and url.lower().startswith(("https://", "http://")) and url.isprintable():
        return url
    return None


def message_json(m: Message, deliveries: list[Delivery]) -> dict[str, Any]:
    return {
        "id": m.id,
        "state": message_state(m, deliveries).value,
        "text": m.text,
        "title": m.title,
        "link": m.link,
        "content_warning": m.content_warning,
        "language": m.language,
        "overrides": m.overrides,
        "images": [
            {"sha256": i.sha256, "content_type": i.content_type, "alt": i.alt, "size": i.size}
            for i in m.images
        ],
        "route": m.route,
        "created_by": m.created_by,
        "created_at": iso(m.created_at),
        "scheduled_at": iso(m.scheduled_at),
        "expires_at": iso(m.expires_at),
        "cancelled_at": iso(m.cancelled_at),
        "thread": m.thread_id if m.thread_id != m.id else None,
        "idempotency_key": client_key(m.idempotency_key),
        "deliveries": [delivery_json(d) for d in deliveries],
    }


def delivery_json(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "channel": d.channel,
        "tier": d.tier,
        "state": d.state.value,
        "attempts": d.attempts,
        "next_attempt_at": iso(d.due_at) if not d.state.final else None,
        "last_attempt_at": iso(d.last_attempt_at),
        "last_error": d.last_error,
        "remote_id": d.remote_id,
        "url": web_url(d.url),
        "uncertain": d.uncertain,
        "parts": len(d.receipt.get("parts", [])) or None,
        # How far a long send got (e.g. {"done": 4000, "total": 10000} recipients).
        "progress": d.progress.get("live") or None,
    }


def event_json(e: Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": iso(e.at),
        "kind": e.kind,
        "actor": e.actor,
        "channel": e.channel,
        "message_id": e.message_id,
        "delivery_id": e.delivery_id,
        "detail": e.detail,
    }


def channel_json(live: LiveChannel, state: ChannelState | None) -> dict[str, Any]:
    st = state or ChannelState(live.name)
    return {
        "name": live.name,
        "display_name": live.config.label,
        "type": live.config.type,
        "available": live.adapter is not None,
        "problem": live.problem,
        "health": st.effective.value,
        "observed": st.health.value,
        "forced": st.forced.value,
        "forced_by": st.forced_by,
        "since": iso(st.since),
        "reason": st.reason,
        "concurrency": live.config.concurrency,
    }


def queue_json(q: QueueStats, now: datetime) -> dict[str, Any]:
    return {
        "pending": q.pending,
        "due": q.due,
        "sending": q.sending,
        "oldest_due_age_s": round((now - q.oldest_due_at).total_seconds(), 3)
        if q.oldest_due_at
        else None,
    }


def token_json(t: Token) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "role": t.role.label,
        "created_at": iso(t.created_at),
        "created_by": t.created_by,
        "revoked_at": iso(t.revoked_at),
        "last_used_at": iso(t.last_used_at),
    }


def session_json(s: WebSession) -> dict[str, Any]:
    return {
        "id": s.id,
        "token_id": s.token.id,
        "token_name": s.token.name,
        "role": s.token.role.label,
        "created_at": iso(s.created_at),
        "expires_at": iso(s.expires_at),
        "last_seen_at": iso(s.last_seen_at),
        "client": s.client,
    }
