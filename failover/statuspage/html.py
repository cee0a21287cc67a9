"""The public page's HTML: the overview, history pages and one permalink page per incident.

Jinja2 with autoescape (nothing an incident or a post says can inject markup), no script
needed to read it; the two small inline scripts only add the reader's local time and the
primary platform's banner (state.json). Every time shown comes from the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from failover.statuspage.data import StatusData
from failover.statuspage.overall import Overall, overall
from failover.statuspage.uptime import Change, Uptime, uptime_bars
from failover.store.status import Component, Incident

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"
STATUS_LABELS = {
    "operational": "Operational",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
    "under_maintenance": "Under maintenance",
}
STATE_LABELS = {
    "investigating": "Investigating", "identified": "Identified", "monitoring": "Monitoring",
    "resolved": "Resolved", "scheduled": "Scheduled", "in_progress": "In progress",
    "verifying": "Verifying", "completed": "Completed",
}  # fmt: skip
IMPACT_LABELS = {
    "none": "No impact", "minor": "Minor impact", "major": "Major impact",
    "critical": "Critical impact", "maintenance": "Maintenance",
}  # fmt: skip

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=StrictUndefined,  # a name missing from a template is a bug, not an empty string
)
_env.globals.update(
    status_label=STATUS_LABELS, state_label=STATE_LABELS, impact_label=IMPACT_LABELS
)
_env.filters["utc"] = lambda at: at.strftime("%Y-%m-%d %H:%M") + " UTC"
_env.filters["iso"] = lambda at: at.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class ComponentRow:
    component: Component
    uptime: Uptime


@dataclass(frozen=True)
class Group:
    name: str | None  # None: components outside any group
    rows: tuple[ComponentRow, ...]


def overall_of(data: StatusData) -> Overall:
    impacts = [i.impact for i in data.active_incidents]
    impacts += ["maintenance" for _ in data.active_maintenances]
    return overall((c.status for c in data.components), impacts)


def groups(data: StatusData) -> list[Group]:
    """Components in page order, grouped by their group (first appearance decides order)."""
    by_component: dict[str, list[Change]] = {}
    for change in data.history:
        by_component.setdefault(change.component_id, []).append(Change(change.status, change.at))
    found: dict[str | None, list[ComponentRow]] = {}
    for c in data.components:
        changes = by_component.get(c.id) or [Change(c.status, c.created_at)]
        row = ComponentRow(c, uptime_bars(changes, data.as_of))
        found.setdefault(c.group_name, []).append(row)
    return [Group(name, tuple(rows)) for name, rows in found.items()]


def index_page(data: StatusData, static: bool = False) -> bytes:
    """``static``: links between pages as files (``history.html``) for the static copies."""
    return _render(
        "status/index.html", data, static, overall=overall_of(data), groups=groups(data),
        root="./",
    )  # fmt: skip


def history_page(
    data: StatusData, past: list[Incident], page: int, more: bool, static: bool = False
) -> bytes:
    return _render("status/history.html", data, static, past=past, page=page, more=more,
                   root="./")  # fmt: skip


def incident_page(data: StatusData, incident: Incident, static: bool = False) -> bytes:
    names = {c.id: c.name for c in data.components}
    affected = [(names.get(k, k), v) for k, v in sorted(incident.components.items())]
    return _render(
        "status/incident.html", data, static, incident=incident, affected=affected, root="../"
    )


def history_file(page: int) -> str:
    """A history page's file name among the static copies."""
    return "history.html" if page == 1 else f"history-{page}.html"


def _render(template: str, data: StatusData, static: bool, **values: object) -> bytes:
    root = str(values["root"])

    def history_href(page: int) -> str:
        return root + (history_file(page) if static else f"history?page={page}")

    updated: datetime | None = data.updated_at
    page = _env.get_template(template).render(
        data=data, meta=data.meta, updated=updated, ext=".html" if static else "",
        history_href=history_href, **values,
    )  # fmt: skip
    return page.encode()
