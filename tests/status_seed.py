"""A believable status page in the store, written through the store's own status methods:
three components (two in a group) with 40 days of history, a resolved incident, an active
one with two updates, and an upcoming maintenance. Shared by the status page's integration,
browser and cluster tests and by docs/status_screenshots.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from failover.store.base import Store
from failover.store.status import ComponentSpec, NewIncident, NewUpdate

COMPONENTS = [
    ComponentSpec("api", "Public API", "REST and webhooks", None, 1),
    ComponentSpec("web", "Website", None, "Frontends", 2),
    ComponentSpec("checkout", "Checkout", "Payments and orders", "Frontends", 3),
]
ACTIVE_TITLE = "Elevated error rates on the Public API"
RESOLVED_TITLE = "Slow checkout for EU customers"
MAINTENANCE_TITLE = "Database upgrade"


@dataclass(frozen=True)
class Seeded:
    active: int
    resolved: int
    maintenance: int


async def seed_demo(store: Store, now: datetime, impact: str = "major") -> Seeded:
    start = now - timedelta(days=40)
    await store.upsert_components(COMPONENTS, start)
    resolved = await _past_incident(store, now - timedelta(days=12))
    active = await open_incident(store, ACTIVE_TITLE, impact, {"api": "partial_outage"}, now)
    await store.add_incident_update(
        active,
        NewUpdate("identified", "A bad deploy; we are rolling it back.", "alice"),
        now + timedelta(minutes=1),
    )
    maintenance = await store.create_incident(
        NewIncident(
            "maintenance",
            MAINTENANCE_TITLE,
            "maintenance",
            "scheduled",
            "default",
            "alice",
            {"checkout": "under_maintenance"},
            scheduled_for=now + timedelta(days=3),
            scheduled_until=now + timedelta(days=3, hours=2),
        ),
        now,
        NewUpdate("scheduled", "Checkout will be read-only for up to two hours.", "alice"),
    )
    return Seeded(active, resolved, maintenance.id)


async def open_incident(
    store: Store, title: str, impact: str, components: dict[str, str], now: datetime
) -> int:
    """An incident as an operator opens one: the incident, its first update, and the
    components' new status in their history."""
    incident = await store.create_incident(
        NewIncident("incident", title, impact, "investigating", "default", "alice", components),
        now,
        NewUpdate("investigating", f"We are investigating: {title}.", "alice"),
    )
    for component, status in components.items():
        await store.set_component_status(component, status, f"incident:{incident.id}", now)
    return incident.id


async def _past_incident(store: Store, at: datetime) -> int:
    incident_id = await open_incident(
        store, RESOLVED_TITLE, "minor", {"checkout": "major_outage"}, at
    )
    resolved = at + timedelta(hours=3)
    await store.add_incident_update(
        incident_id, NewUpdate("resolved", "Checkout is fast again.", "alice"), resolved
    )
    await store.set_component_status("checkout", "operational", f"incident:{incident_id}", resolved)
    return incident_id
