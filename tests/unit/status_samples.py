"""Sample status-page data built from the store's own dataclasses, for the unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from failover.statuspage.data import Announcement, PageMeta, StatusData
from failover.store.status import Component, ComponentChange, Incident, IncidentUpdate

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
META = PageMeta(
    title="Acme status", description="Our services.", url="https://status.acme.example/status/"
)


def component(
    cid: str, status: str = "operational", group: str | None = None, pos: int = 0
) -> Component:
    return Component(
        cid, cid.upper(), f"The {cid}", group, pos, status, None, T0 - timedelta(days=30), T0
    )


def update(uid: int, incident_id: int, state: str, body: str, at: datetime) -> IncidentUpdate:
    return IncidentUpdate(uid, incident_id, state, body, 100 + uid, "alice", at)


def incident(
    iid: int,
    title: str = "Checkout errors",
    impact: str = "major",
    state: str = "identified",
    components: dict[str, str] | None = None,
    kind: str = "incident",
    updates: tuple[IncidentUpdate, ...] | None = None,
    scheduled: tuple[datetime, datetime] | None = None,
) -> Incident:
    ups = (
        updates
        if updates is not None
        else (
            update(iid * 10 + 2, iid, state, "We found the cause.", T0 + timedelta(minutes=20)),
            update(iid * 10 + 1, iid, "investigating", "We are looking into it.", T0),
        )
    )
    done = state in ("resolved", "completed")
    return Incident(
        id=iid, kind=kind, title=title, impact=impact, state=state, route="default",
        draft=False, thread_message_id=None,
        scheduled_for=scheduled[0] if scheduled else None,
        scheduled_until=scheduled[1] if scheduled else None,
        remind_before=None, reminded_at=None, auto_start=False, auto_complete=False,
        created_by="alice", created_at=T0, updated_at=T0 + timedelta(minutes=20),
        started_at=T0, resolved_at=T0 + timedelta(hours=1) if done else None,
        components=components if components is not None else {"api": "partial_outage"},
        updates=ups,
    )  # fmt: skip


def sample() -> StatusData:
    """An API in partial outage from an active incident, a resolved one, an upcoming and an
    active maintenance, a grouped component and an announcement."""
    return StatusData(
        meta=META,
        as_of=T0 + timedelta(hours=2),
        components=(
            component("api", "partial_outage", pos=1),
            component("web", "operational", "Frontends", 2),
            component("cdn", "under_maintenance", "Frontends", 3),
        ),
        history=(
            ComponentChange("api", "operational", "operator:alice", T0 - timedelta(days=10)),
            ComponentChange("api", "partial_outage", "incident:2", T0),
        ),
        incidents=(
            incident(2, components={"api": "partial_outage"}),
            incident(1, "Slow logins", "minor", "resolved", {}),
        ),
        maintenances=(
            incident(
                4,
                "CDN swap",
                "maintenance",
                "in_progress",
                {"cdn": "under_maintenance"},
                "maintenance",
                scheduled=(T0, T0 + timedelta(hours=4)),
            ),
            incident(
                3,
                "Database upgrade",
                "maintenance",
                "scheduled",
                {},
                "maintenance",
                (),
                scheduled=(T0 + timedelta(days=2), T0 + timedelta(days=2, hours=1)),
            ),
        ),
        announcements=(
            Announcement(7, "Winter sale starts now!", None, None, T0 - timedelta(hours=1), None),
        ),
    )
