"""The page's overall status in Statuspage's vocabulary: an indicator and its description.

The worst of what the active incidents declare (their impact) and what the components show.
With no component and no active incident the page has nothing it can vouch for, so it says
so instead of "All Systems Operational".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

INDICATORS = ("none", "maintenance", "minor", "major", "critical")  # least to most severe
DESCRIPTIONS = {
    "none": "All Systems Operational",
    "maintenance": "Service Under Maintenance",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}
NOTHING_WATCHED = "No components are monitored"
# A component's status, as the overall indicator it implies.
FROM_COMPONENT = {
    "operational": "none",
    "under_maintenance": "maintenance",
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "critical",
}


@dataclass(frozen=True)
class Overall:
    indicator: str  # none | maintenance | minor | major | critical
    description: str
    vouched: bool  # False: nothing is watched, the page claims nothing


def overall(component_statuses: Iterable[str], incident_impacts: Iterable[str]) -> Overall:
    """``incident_impacts``: the impact of every active incident and in-progress maintenance
    ("maintenance" for the latter)."""
    statuses = list(component_statuses)
    levels = [FROM_COMPONENT.get(s, "none") for s in statuses]
    levels += [i if i in INDICATORS else "none" for i in incident_impacts]
    worst = max(levels, key=INDICATORS.index, default="none")
    if not statuses and worst == "none":
        return Overall("none", NOTHING_WATCHED, vouched=False)
    return Overall(worst, DESCRIPTIONS[worst], vouched=True)
