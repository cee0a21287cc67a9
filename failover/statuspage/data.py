"""What the public page shows, read from the store in one go (``load``) and handed to the
renderers as plain frozen data. Nothing here depends on the host that reads it: the same
store gives every daemon of a cluster the same snapshot, so the same bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from channels.feed import FeedOptions
from failover.config import Config
from failover.store.base import Store
from failover.store.status import Component, ComponentChange, Incident

UPTIME_DAYS = 90
ANNOUNCEMENTS = 50
LISTED = 50  # incidents / maintenances in the JSON lists (Statuspage lists 50 too)
HISTORY_PAGE = 10  # resolved incidents per history page
# The clock only enters the page through the uptime bars' end, rounded down to this step,
# so two daemons asked within the same step answer the same bytes.
AS_OF_STEP = timedelta(minutes=10)


@dataclass(frozen=True)
class PageMeta:
    title: str = "Status"
    description: str = "Announcements, wherever our other channels are."
    url: str = "/status/"  # the public address of /status/, ending in "/"
    language: str | None = None
    profiles: tuple[tuple[str, str], ...] = ()  # (label, URL) of our other profiles
    page_id: str = "failover"
    time_zone: str = "Etc/UTC"


@dataclass(frozen=True)
class Announcement:
    """A post delivered to the feed channel (not an incident update)."""

    id: int
    text: str
    title: str | None
    link: str | None
    published: datetime
    thread_id: int | None  # the thread's first message, when this one replies in it

    @property
    def heading(self) -> str:
        return self.title or self.text.split("\n", 1)[0][:80]


@dataclass(frozen=True)
class StatusData:
    meta: PageMeta
    as_of: datetime  # end of the uptime bars (rounded clock, see AS_OF_STEP)
    components: tuple[Component, ...] = ()
    history: tuple[ComponentChange, ...] = ()
    incidents: tuple[Incident, ...] = ()  # newest first, active and recent resolved
    maintenances: tuple[Incident, ...] = ()  # newest first, not completed and recent
    announcements: tuple[Announcement, ...] = field(default=())

    @property
    def active_incidents(self) -> tuple[Incident, ...]:
        return tuple(i for i in self.incidents if i.state != "resolved")

    @property
    def active_maintenances(self) -> tuple[Incident, ...]:
        return tuple(m for m in self.maintenances if m.state in ("in_progress", "verifying"))

    @property
    def upcoming_maintenances(self) -> tuple[Incident, ...]:
        return tuple(m for m in self.maintenances if m.state == "scheduled")

    @property
    def updated_at(self) -> datetime | None:
        """The newest time in the data: the page's "updated" (never the render time)."""
        times = [c.updated_at for c in self.components]
        times += [i.updated_at for i in (*self.incidents, *self.maintenances)]
        times += [a.published for a in self.announcements]
        return max(times, default=None)


def page_meta(config: Config) -> PageMeta:
    """Title, description and profiles from the first feed channel, the page's address from
    ``api.public_url`` (relative without one: never a host's own listen address)."""
    base = f"{config.api.public_url.rstrip('/')}/status/" if config.api.public_url else "/status/"
    for channel in config.channels.values():
        if channel.type == "feed" and isinstance(channel.options, FeedOptions):
            o = channel.options
            return PageMeta(o.title, o.description, base, o.language, tuple(o.profiles.items()))
    return PageMeta(url=base)


def as_of(now: datetime) -> datetime:
    step = AS_OF_STEP.total_seconds()
    return datetime.fromtimestamp(now.timestamp() // step * step, UTC)


async def load(store: Store, config: Config, now: datetime, history: bool = True) -> StatusData:
    """``history``: also read the 90 days of component history (only the uptime bars need
    it, and it is the largest read)."""
    end = as_of(now)
    incidents = await store.list_incidents("incident", limit=LISTED)
    active = await store.list_incidents("incident", active=True, limit=LISTED)
    maintenances = await store.list_incidents("maintenance", limit=LISTED)
    open_maintenances = await store.list_incidents("maintenance", active=True, limit=LISTED)
    return StatusData(
        meta=page_meta(config),
        as_of=end,
        components=tuple(await store.list_components()),
        history=tuple(
            await store.component_history(end - timedelta(days=UPTIME_DAYS)) if history else ()
        ),
        incidents=_merge(active, incidents),
        maintenances=_merge(open_maintenances, maintenances),
        announcements=tuple(await announcements(store, config)),
    )


async def announcements(store: Store, config: Config) -> list[Announcement]:
    found: dict[int, Announcement] = {}
    for name, channel in sorted(config.channels.items()):
        if channel.type != "feed":
            continue
        for message, at in await store.posts_delivered_on(name, ANNOUNCEMENTS):
            thread = message.thread_id if message.thread_id != message.id else None
            found[message.id] = Announcement(
                message.id, message.text, message.title, message.link,
                at or message.created_at, thread,
            )  # fmt: skip
    return sorted(found.values(), key=lambda a: a.id, reverse=True)[:ANNOUNCEMENTS]


async def past_incidents(store: Store, page: int) -> tuple[list[Incident], bool]:
    """History page ``page`` (1-based): resolved incidents and completed maintenance, newest
    first, and whether an older page exists."""
    past = await store.list_incidents(None, active=False, limit=page * HISTORY_PAGE + 1)
    return past[(page - 1) * HISTORY_PAGE : page * HISTORY_PAGE], len(past) > page * HISTORY_PAGE


def _merge(first: list[Incident], second: list[Incident]) -> tuple[Incident, ...]:
    """Both lists, each incident once, newest first: every active one even if older than
    the last LISTED."""
    by_id = {i.id: i for i in (*second, *first)}
    return tuple(sorted(by_id.values(), key=lambda i: i.id, reverse=True))
