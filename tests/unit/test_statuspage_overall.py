"""The overall indicator: the worst of the active incidents' impact and the components'
status, and no "All Systems Operational" when nothing is watched."""

from __future__ import annotations

from failover.statuspage.overall import overall


def test_all_operational_components_say_so() -> None:
    o = overall(["operational", "operational"], [])
    assert (o.indicator, o.description, o.vouched) == ("none", "All Systems Operational", True)


def test_the_worst_of_components_and_incidents_wins() -> None:
    assert overall(["operational", "partial_outage"], []).description == "Partial System Outage"
    assert overall(["operational"], ["minor"]).indicator == "minor"
    assert overall(["degraded_performance"], ["critical"]).description == "Major System Outage"
    assert overall(["under_maintenance"], []).indicator == "maintenance"
    assert overall(["under_maintenance"], ["minor"]).indicator == "minor"


def test_nothing_watched_claims_nothing() -> None:
    o = overall([], [])
    assert not o.vouched and "Operational" not in o.description
    assert overall([], ["major"]).vouched  # an incident is news even without components
