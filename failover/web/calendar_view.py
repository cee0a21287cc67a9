"""The calendar of scheduled messages: a month and a week view, in the reader's zone.

Moving an entry to another day (drag and drop) or another time (its "move" form) reschedules
the message through the same intake edit as the message page: same CSRF check, same role,
same validation (a time in the past is refused). The agenda list (/ui/scheduled) stays, and
is what a phone shows best.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from failover.api.routes import path_id
from failover.errors import Conflict, InvalidInput, NotFound
from failover.model import Message, Role
from failover.web import session as sessions
from failover.web.pages import ZONES, _ctx, _zone, page, render

routes = web.RouteTableDef()
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_LISTED = 1000  # scheduled messages looked at per page


@dataclass
class Day:
    day: date
    in_range: bool
    today: bool
    items: list[dict[str, Any]] = field(default_factory=list)


def grid(view: str, anchor: date, today: date) -> list[list[Day]]:
    """Weeks (Monday first) covering the month of ``anchor``, or its one week."""
    if view == "week":
        start = anchor - timedelta(days=anchor.weekday())
        return [[Day(start + timedelta(days=i), True, start + timedelta(days=i) == today)
                 for i in range(7)]]  # fmt: skip
    first = anchor.replace(day=1)
    start = first - timedelta(days=first.weekday())
    weeks: list[list[Day]] = []
    day = start
    while not weeks or day.month == first.month:
        weeks.append([])
        for _ in range(7):
            weeks[-1].append(Day(day, day.month == first.month, day == today))
            day += timedelta(days=1)
    return weeks


def step(view: str, anchor: date, direction: int) -> date:
    if view == "week":
        return anchor + timedelta(days=7 * direction)
    month = anchor.month - 1 + direction
    return date(anchor.year + month // 12, month % 12 + 1, 1)


def place(weeks: list[list[Day]], messages: list[Message], zone: ZoneInfo, now: datetime) -> None:
    days = {d.day: d for week in weeks for d in week}
    for m in messages:
        if m.scheduled_at is None or m.cancelled_at is not None:
            continue
        local = m.scheduled_at.astimezone(zone)
        if (cell := days.get(local.date())) is not None:
            cell.items.append(
                {"id": m.id, "text": m.text, "at": m.scheduled_at, "local": local,
                 "movable": m.scheduled_at > now}
            )  # fmt: skip
    for d in days.values():
        d.items.sort(key=lambda i: i["at"])


def _anchor(raw: str | None, today: date) -> date:
    try:
        return date.fromisoformat(raw) if raw else today
    except ValueError:
        return today


@routes.get("/ui/calendar")
@page(Role.VIEWER)
async def calendar(request: web.Request, session: sessions.Session) -> web.Response:
    return await _calendar_page(request, session, request.query)


async def _calendar_page(
    request: web.Request,
    session: sessions.Session,
    params: Mapping[str, str],
    error: str | None = None,
) -> web.Response:
    ctx = _ctx(request)
    zone = _zone(params.get("tz") or ctx.config().ui.time_zone)
    view = "week" if params.get("view") == "week" else "month"
    now = ctx.clock.now()
    today = now.astimezone(zone).date()
    anchor = _anchor(params.get("anchor") or params.get("date"), today)
    weeks = grid(view, anchor, today)
    place(weeks, await ctx.store.messages(limit=MAX_LISTED), zone, now)
    title = f"Week of {weeks[0][0].day:%d %B %Y}" if view == "week" else f"{anchor:%B %Y}"
    return render(
        request, "calendar.html", session, status=422 if error else 200, weeks=weeks,
        view=view, anchor=anchor, title=title, tz=zone.key, zones=ZONES, weekdays=WEEKDAYS,
        previous=step(view, anchor, -1), next=step(view, anchor, 1), error=error,
        can_move=session.token.role >= Role.PUBLISHER,
    )  # fmt: skip


@routes.post("/ui/messages/{id:\\d+}/move")
@page(Role.PUBLISHER, changes=True)
async def move(request: web.Request, session: sessions.Session) -> web.StreamResponse:
    """Reschedule to ``date`` (and ``time``, else the same time of day) in ``tz``."""
    message_id = path_id(request)
    form = {k: str(v) for k, v in (await request.post()).items()}
    wants_json = "application/json" in request.headers.get("Accept", "")
    ctx = _ctx(request)
    try:
        zone = _zone(form.get("tz"), strict=True)
        current = await ctx.store.message(message_id)
        if current is None or current.scheduled_at is None:
            raise NotFound(f"message {message_id} is not scheduled")
        at = _new_time(form, current.scheduled_at.astimezone(zone), zone)
        await ctx.intake().edit(
            message_id, {"scheduled_at": at.isoformat()}, f"web:{session.token.name}"
        )
    except (InvalidInput, Conflict, NotFound) as exc:
        said = f"{exc.field}: {exc.detail}" if isinstance(exc, InvalidInput) else str(exc)
        said = f"Message {message_id} was not moved: {said}"
        if wants_json:
            status = 409 if isinstance(exc, Conflict) else 422
            return web.json_response({"error": said}, status=status)
        return await _calendar_page(request, session, form, said)
    if wants_json:
        return web.json_response({"id": message_id, "scheduled_at": at.isoformat()})
    back = request.headers.get("Referer", "")
    raise web.HTTPSeeOther(back if "/ui/calendar" in back else "/ui/calendar")


def _new_time(form: dict[str, str], current: datetime, zone: ZoneInfo) -> datetime:
    try:
        day = date.fromisoformat(form.get("date", ""))
    except ValueError:
        raise InvalidInput("date", "is not a date like 2026-12-01") from None
    raw = form.get("time", "").strip()
    try:
        at = time.fromisoformat(raw) if raw else current.timetz().replace(tzinfo=None)
    except ValueError:
        raise InvalidInput("time", "is not a time like 09:30") from None
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
