"""The Statuspage-compatible JSON API (``/status/api/v2/*.json``), as pure functions of the
page's data, so Statuspage clients, chat integrations and monitors read it unchanged.

Shapes follow Atlassian's documented public API (every Statuspage page documents it at
``<page>/api``, e.g. https://confluence.status.atlassian.com/api: summary, status,
components, incidents, incidents/unresolved, scheduled-maintenances, .../upcoming,
.../active) and the types client libraries parse it into (the ``statuspage.io`` npm
package's ``dist/interfaces/Result.d.ts``: Page, Component, Incident, ScheduledMaintenance).
Ids are strings, times ISO 8601 UTC with milliseconds, absent times ``null``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from failover.statuspage.data import StatusData
from failover.statuspage.overall import overall
from failover.statuspage.uptime import SEVERITY
from failover.store.status import Component, Incident, IncidentUpdate

Json = dict[str, Any]


def summary(data: StatusData) -> Json:
    return {
        "page": page(data),
        "components": components(data),
        "incidents": [incident(data, i) for i in data.active_incidents],
        "scheduled_maintenances": [
            incident(data, m) for m in (*data.active_maintenances, *data.upcoming_maintenances)
        ],
        "status": status(data),
    }


def status_doc(data: StatusData) -> Json:
    return {"page": page(data), "status": status(data)}


def components_doc(data: StatusData) -> Json:
    return {"page": page(data), "components": components(data)}


def incidents_doc(data: StatusData, *, unresolved: bool = False) -> Json:
    chosen = data.active_incidents if unresolved else data.incidents
    return {"page": page(data), "incidents": [incident(data, i) for i in chosen]}


def maintenances_doc(data: StatusData, which: str = "all") -> Json:
    """``which``: all | upcoming | active."""
    chosen = {
        "all": data.maintenances,
        "upcoming": data.upcoming_maintenances,
        "active": data.active_maintenances,
    }[which]
    return {"page": page(data), "scheduled_maintenances": [incident(data, m) for m in chosen]}


# Every document by its path under api/v2/ (without ".json"): served live and written to the
# static copies.
DOCUMENTS: dict[str, Callable[[StatusData], Json]] = {
    "summary": summary,
    "status": status_doc,
    "components": components_doc,
    "incidents": incidents_doc,
    "incidents/unresolved": lambda d: incidents_doc(d, unresolved=True),
    "scheduled-maintenances": maintenances_doc,
    "scheduled-maintenances/upcoming": lambda d: maintenances_doc(d, "upcoming"),
    "scheduled-maintenances/active": lambda d: maintenances_doc(d, "active"),
}


def page(data: StatusData) -> Json:
    return {
        "id": data.meta.page_id,
        "name": data.meta.title,
        "url": data.meta.url,
        "time_zone": data.meta.time_zone,
        "updated_at": stamp(data.updated_at or data.as_of),
    }


def status(data: StatusData) -> Json:
    impacts = [i.impact for i in data.active_incidents]
    impacts += ["maintenance" for _ in data.active_maintenances]
    o = overall((c.status for c in data.components), impacts)
    return {"indicator": o.indicator, "description": o.description}


def components(data: StatusData) -> list[Json]:
    """The components, then one group component per group (Statuspage lists both, a
    group with ``group: true`` and its members' ids)."""
    out = [component(data, c) for c in data.components]
    groups: dict[str, list[Component]] = {}
    for c in data.components:
        if c.group_name:
            groups.setdefault(c.group_name, []).append(c)
    for name, members in groups.items():
        out.append({
            "id": group_id(name),
            "name": name,
            "status": max((m.status for m in members), key=_severity),
            "created_at": stamp(min(m.created_at for m in members)),
            "updated_at": stamp(max(m.updated_at for m in members)),
            "position": min(m.position for m in members),
            "description": None,
            "showcase": False,
            "start_date": None,
            "group_id": None,
            "page_id": data.meta.page_id,
            "group": True,
            "only_show_if_degraded": False,
            "components": [m.id for m in members],
        })  # fmt: skip
    return out


def component(data: StatusData, c: Component) -> Json:
    return {
        "id": c.id,
        "name": c.name,
        "status": c.status,
        "created_at": stamp(c.created_at),
        "updated_at": stamp(c.updated_at),
        "position": c.position,
        "description": c.description,
        "showcase": True,
        "start_date": c.created_at.astimezone(UTC).date().isoformat(),
        "group_id": group_id(c.group_name) if c.group_name else None,
        "page_id": data.meta.page_id,
        "group": False,
        "only_show_if_degraded": False,
    }


def incident(data: StatusData, i: Incident) -> Json:
    """An incident or a scheduled maintenance (which adds scheduled_for/scheduled_until)."""
    by_id = {c.id: c for c in data.components}
    doc: Json = {
        "id": str(i.id),
        "name": i.title,
        "status": i.state,
        "created_at": stamp(i.created_at),
        "updated_at": stamp(i.updated_at),
        "monitoring_at": _first_at(i.updates, "monitoring"),
        "resolved_at": stamp(i.resolved_at) if i.resolved_at else None,
        "impact": i.impact,
        "shortlink": f"{data.meta.url}incidents/{i.id}",
        "started_at": stamp(i.started_at or i.created_at),
        "page_id": data.meta.page_id,
        "incident_updates": [update(u) for u in i.updates],
        "components": [component(data, by_id[k]) for k in sorted(i.components) if k in by_id],
    }
    if i.kind == "maintenance":
        doc["scheduled_for"] = stamp(i.scheduled_for) if i.scheduled_for else None
        doc["scheduled_until"] = stamp(i.scheduled_until) if i.scheduled_until else None
    return doc


def update(u: IncidentUpdate) -> Json:
    at = stamp(u.created_at)
    return {
        "id": str(u.id),
        "status": u.state,
        "body": u.body,
        "incident_id": str(u.incident_id),
        "created_at": at,
        "updated_at": at,
        "display_at": at,
        "affected_components": None,
        "deliver_notifications": u.message_id is not None,
        "custom_tweet": None,
        "tweet_id": None,
    }


def dumps(doc: Json) -> bytes:
    """The bytes served and written: compact, key order as built, UTF-8."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def stamp(at: datetime) -> str:
    """``2026-11-26T10:12:11.123Z``: Statuspage's form, UTC, milliseconds."""
    utc = at.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def group_id(name: str) -> str:
    return "group-" + hashlib.sha256(name.encode()).hexdigest()[:12]


def _first_at(updates: Sequence[IncidentUpdate], state: str) -> str | None:
    times = [u.created_at for u in updates if u.state == state]
    return stamp(min(times)) if times else None


def _severity(status: str) -> int:
    return SEVERITY.index(status) if status in SEVERITY else -1
