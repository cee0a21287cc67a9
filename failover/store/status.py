"""The store's part for incidents, scheduled maintenance and the company's components.

Read by the public status page (the names below are the contract it codes against) and
written by ``failover.incidents``. A mixin of the store, so SQLite and PostgreSQL pass the same
contract tests. Each method is one transaction.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from failover.clock import utc
from failover.store.sql_access import Row, SqlAccess, Tx

TERMINAL_STATES = ("resolved", "completed")


@dataclass(frozen=True)
class Component:
    id: str
    name: str
    description: str | None
    group_name: str | None
    position: int
    status: str  # operational | degraded_performance | partial_outage | major_outage | under_maintenance
    probe: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ComponentSpec:
    """A component as config or the API describes it (its status is not part of it)."""

    id: str
    name: str
    description: str | None = None
    group_name: str | None = None
    position: int = 0
    probe: str | None = None


@dataclass(frozen=True)
class ComponentChange:
    component_id: str
    status: str
    source: str  # incident:<id> | maintenance:<id> | operator:<name> | probe
    at: datetime


@dataclass(frozen=True)
class IncidentUpdate:
    id: int
    incident_id: int
    state: str
    body: str
    message_id: int | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class Incident:
    id: int
    kind: str  # incident | maintenance
    title: str
    impact: str
    state: str
    route: str
    draft: bool
    thread_message_id: int | None
    scheduled_for: datetime | None
    scheduled_until: datetime | None
    remind_before: float | None
    reminded_at: datetime | None
    auto_start: bool
    auto_complete: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    resolved_at: datetime | None
    components: dict[str, str]  # component id -> status this incident gives it
    updates: tuple[IncidentUpdate, ...]  # newest first

    @property
    def active(self) -> bool:
        return self.state not in TERMINAL_STATES


@dataclass(frozen=True)
class NewIncident:
    kind: str
    title: str
    impact: str
    state: str
    route: str
    created_by: str
    components: Mapping[str, str] = field(default_factory=dict)
    draft: bool = False
    scheduled_for: datetime | None = None
    scheduled_until: datetime | None = None
    remind_before: float | None = None
    auto_start: bool = False
    auto_complete: bool = False


@dataclass(frozen=True)
class NewUpdate:
    """An update to record; its state becomes the incident's state."""

    state: str
    body: str
    created_by: str
    message_id: int | None = None
    components: Mapping[str, str] | None = None  # None: the affected components stay as they are


class StatusStore(abc.ABC):
    """What incidents and the status page need durably."""

    # read: the contract of the status page -------------------------------------------------

    @abc.abstractmethod
    async def list_components(self) -> list[Component]:
        """Ordered by position, then name."""

    @abc.abstractmethod
    async def component_history(self, since: datetime) -> list[ComponentChange]:
        """Every change at or after ``since``, plus each component's last change before it
        (so a bar knows the status at the window's start); ordered by component_id, at."""

    @abc.abstractmethod
    async def list_incidents(
        self,
        kind: str | None = None,
        *,
        active: bool | None = None,
        before_id: int | None = None,
        limit: int = 50,
        include_drafts: bool = False,
    ) -> list[Incident]:
        """Newest first (by id). ``active``: not resolved/completed (True) or the others."""

    @abc.abstractmethod
    async def get_incident(self, incident_id: int) -> Incident | None: ...

    # write ---------------------------------------------------------------------------------

    @abc.abstractmethod
    async def get_component(self, component_id: str) -> Component | None: ...

    @abc.abstractmethod
    async def upsert_components(self, specs: Sequence[ComponentSpec], now: datetime) -> None:
        """Insert new components (operational, with a first history row) and update the
        description of known ones; their status is left alone."""

    @abc.abstractmethod
    async def set_component_status(
        self, component_id: str, status: str, source: str, now: datetime
    ) -> Component | None:
        """Set a status and write a history row when it changes; None if unknown."""

    @abc.abstractmethod
    async def create_incident(
        self, new: NewIncident, now: datetime, first: NewUpdate | None = None
    ) -> Incident:
        """Insert an incident with its components and, in the same transaction, its first
        update (if given)."""

    @abc.abstractmethod
    async def add_incident_update(
        self, incident_id: int, update: NewUpdate, now: datetime
    ) -> IncidentUpdate:
        """Record an update and make its state the incident's (setting started/resolved
        times); the first update with a message becomes the incident's thread."""

    @abc.abstractmethod
    async def publish_incident(self, incident_id: int, now: datetime) -> bool:
        """Turn a draft into a published incident; False if it was not a draft (so of two
        daemons confirming at once, one posts)."""

    @abc.abstractmethod
    async def set_update_message(self, incident_id: int, update_id: int, message_id: int) -> None:
        """Record the message an update was posted as (the first one becomes the thread)."""

    @abc.abstractmethod
    async def mark_reminded(self, incident_id: int, now: datetime) -> bool:
        """Record the maintenance reminder once; False if it was already recorded."""


class SqlStatusStore(StatusStore, SqlAccess):
    """The SQL behind ``StatusStore``, on the dialect's transactions and named queries."""

    async def list_components(self) -> list[Component]:
        return [_component(r) for r in await self._all("status_components")]

    async def get_component(self, component_id: str) -> Component | None:
        rows = await self._all("status_component_get", id=component_id)
        return _component(rows[0]) if rows else None

    async def component_history(self, since: datetime) -> list[ComponentChange]:
        rows = await self._all_large("status_component_history", since=since.timestamp())
        return [
            ComponentChange(r["component_id"], r["status"], r["source"], utc(r["at"])) for r in rows
        ]

    async def list_incidents(
        self,
        kind: str | None = None,
        *,
        active: bool | None = None,
        before_id: int | None = None,
        limit: int = 50,
        include_drafts: bool = False,
    ) -> list[Incident]:
        params = {
            "kind": kind,
            "active": None if active is None else int(active),
            "before_id": before_id,
            "limit": limit,
            "drafts": int(include_drafts),
        }
        # Reads, not a write transaction (SQLite would take its write lock): the incidents
        # first, so their components and updates are at least as new as the rows.
        rows = await self._all("status_incidents", **params)
        parts = await self._all("status_incidents_components", **params)
        updates = await self._all("status_incidents_updates", **params)
        return _assemble(rows, parts, updates)

    async def get_incident(self, incident_id: int) -> Incident | None:
        rows = await self._all("status_incident_get", id=incident_id)
        if not rows:
            return None
        parts = await self._all("status_incident_components", id=incident_id)
        updates = await self._all("status_incident_updates", id=incident_id)
        return _assemble(rows, parts, updates)[0]

    async def upsert_components(self, specs: Sequence[ComponentSpec], now: datetime) -> None:
        if not specs:
            return
        ts = now.timestamp()
        async with self._tx() as db:
            for spec in specs:
                params = {**vars(spec), "now": ts}
                if await db.run("status_component_insert", params):
                    await db.run(
                        "status_history_insert",
                        {"id": spec.id, "status": "operational", "source": "config", "now": ts},
                    )
                else:
                    await db.run("status_component_describe", params)

    async def set_component_status(
        self, component_id: str, status: str, source: str, now: datetime
    ) -> Component | None:
        params = {"id": component_id, "status": status, "source": source, "now": now.timestamp()}
        async with self._tx() as db:
            if await db.run("status_component_set", params):
                await db.run("status_history_insert", params)
            rows = await db.fetch("status_component_get", id=component_id)
            return _component(rows[0]) if rows else None

    async def create_incident(
        self, new: NewIncident, now: datetime, first: NewUpdate | None = None
    ) -> Incident:
        ts = now.timestamp()
        async with self._tx() as db:
            params = {
                **{k: v for k, v in vars(new).items() if k != "components"},
                "draft": int(new.draft),
                "auto_start": int(new.auto_start),
                "auto_complete": int(new.auto_complete),
                "scheduled_for": _ts(new.scheduled_for),
                "scheduled_until": _ts(new.scheduled_until),
                "now": ts,
            }
            incident_id = int((await db.fetch("status_incident_insert", **params))[0]["id"])
            await _put_components(db, incident_id, new.components)
            if first is not None:
                await _add_update(db, incident_id, first, ts)
            found = await _one_incident(db, incident_id)
            assert found is not None
            return found

    async def add_incident_update(
        self, incident_id: int, update: NewUpdate, now: datetime
    ) -> IncidentUpdate:
        async with self._tx() as db:
            return await _add_update(db, incident_id, update, now.timestamp())

    async def publish_incident(self, incident_id: int, now: datetime) -> bool:
        async with self._tx() as db:
            return await db.run("status_incident_publish", {"id": incident_id, "now": now.timestamp()}) > 0  # fmt: skip

    async def set_update_message(self, incident_id: int, update_id: int, message_id: int) -> None:
        async with self._tx() as db:
            params = {"incident_id": incident_id, "update_id": update_id, "message_id": message_id}
            await db.run("status_update_message", params)
            await db.run("status_incident_thread", params)

    async def mark_reminded(self, incident_id: int, now: datetime) -> bool:
        async with self._tx() as db:
            return await db.run("status_incident_reminded", {"id": incident_id, "now": now.timestamp()}) > 0  # fmt: skip


async def _add_update(db: Tx, incident_id: int, update: NewUpdate, ts: float) -> IncidentUpdate:
    params = {
        "incident_id": incident_id,
        "state": update.state,
        "body": update.body,
        "message_id": update.message_id,
        "created_by": update.created_by,
        "now": ts,
    }
    row = (await db.fetch("status_update_insert", **params))[0]
    await db.run("status_incident_state", params)
    if update.components is not None:
        await db.run("status_incident_components_clear", {"incident_id": incident_id})
        await _put_components(db, incident_id, update.components)
    return _update(row)


async def _put_components(db: Tx, incident_id: int, components: Mapping[str, str]) -> None:
    rows = [{"incident_id": incident_id, "component_id": c, "status": s} for c, s in components.items()]  # fmt: skip
    if rows:
        await db.run_many("status_incident_component_insert", rows)


async def _one_incident(db: Tx, incident_id: int) -> Incident | None:
    rows = await db.fetch("status_incident_get", id=incident_id)
    if not rows:
        return None
    parts = await db.fetch("status_incident_components", id=incident_id)
    updates = await db.fetch("status_incident_updates", id=incident_id)
    return _assemble(rows, parts, updates)[0]


def _assemble(rows: list[Row], parts: list[Row], updates: list[Row]) -> list[Incident]:
    comps: dict[int, dict[str, str]] = {}
    for p in parts:
        comps.setdefault(int(p["incident_id"]), {})[p["component_id"]] = p["status"]
    ups: dict[int, list[IncidentUpdate]] = {}
    for u in updates:  # the queries return them newest first
        ups.setdefault(int(u["incident_id"]), []).append(_update(u))
    return [_incident(r, comps.get(int(r["id"]), {}), tuple(ups.get(int(r["id"]), []))) for r in rows]  # fmt: skip


def _ts(dt: datetime | None) -> float | None:
    return None if dt is None else dt.timestamp()


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else utc(ts)


def _component(r: Row) -> Component:
    return Component(
        id=r["id"],
        name=r["name"],
        description=r["description"],
        group_name=r["group_name"],
        position=int(r["position"]),
        status=r["status"],
        probe=r["probe"],
        created_at=utc(r["created_at"]),
        updated_at=utc(r["updated_at"]),
    )


def _update(r: Row) -> IncidentUpdate:
    return IncidentUpdate(
        id=int(r["id"]),
        incident_id=int(r["incident_id"]),
        state=r["state"],
        body=r["body"],
        message_id=None if r["message_id"] is None else int(r["message_id"]),
        created_by=r["created_by"],
        created_at=utc(r["created_at"]),
    )


def _incident(r: Row, components: dict[str, str], updates: tuple[IncidentUpdate, ...]) -> Incident:
    return Incident(
        id=int(r["id"]),
        kind=r["kind"],
        title=r["title"],
        impact=r["impact"],
        state=r["state"],
        route=r["route"],
        draft=bool(r["draft"]),
        thread_message_id=None if r["thread_message_id"] is None else int(r["thread_message_id"]),
        scheduled_for=_dt(r["scheduled_for"]),
        scheduled_until=_dt(r["scheduled_until"]),
        remind_before=None if r["remind_before"] is None else float(r["remind_before"]),
        reminded_at=_dt(r["reminded_at"]),
        auto_start=bool(r["auto_start"]),
        auto_complete=bool(r["auto_complete"]),
        created_by=r["created_by"],
        created_at=utc(r["created_at"]),
        updated_at=utc(r["updated_at"]),
        started_at=_dt(r["started_at"]),
        resolved_at=_dt(r["resolved_at"]),
        components=components,
        updates=updates,
    )
