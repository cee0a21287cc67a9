"""Times as people read them: in their zone, always with the zone's name, with a relative hint
where it helps ("in 3 h"). Stored and sent times stay UTC; only what is shown changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str | None) -> tzinfo:
    """The named zone; this computer's own zone when ``name`` is empty; raises ValueError."""
    if not name:
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use a name like Europe/Berlin)") from None


def parse_iso(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def local(value: str | datetime | None, tz: tzinfo, seconds: bool = False) -> str:
    """ "2026-12-01 09:00 CET": the time in ``tz``, with the zone's abbreviation."""
    at = parse_iso(value)
    if at is None:
        return ""
    shown = at.astimezone(tz)
    return shown.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def span(delta: timedelta) -> str:
    """A length of time in the largest unit that keeps it readable: "45 s", "3 h", "2 days"."""
    s = abs(delta.total_seconds())
    if s < 90:
        return f"{s:.0f} s"
    if s < 90 * 60:
        return f"{s / 60:.0f} min"
    if s < 36 * 3600:
        return f"{s / 3600:.0f} h"
    days = round(s / 86400)
    return f"{days} day{'s' if days != 1 else ''}"


def relative(value: str | datetime | None, now: datetime) -> str:
    """ "in 3 h", "5 min ago", or "now"."""
    at = parse_iso(value)
    if at is None:
        return ""
    delta = at - now
    if abs(delta.total_seconds()) < 30:
        return "now"
    return f"in {span(delta)}" if delta.total_seconds() > 0 else f"{span(delta)} ago"
