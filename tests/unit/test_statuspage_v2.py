"""The Statuspage JSON is checked against the documented schema: every field name AND its
type, for each of the eight documents (Atlassian's public API documentation, e.g.
https://confluence.status.atlassian.com/api, and the ``statuspage.io`` client's types)."""

from __future__ import annotations

import json
import re
from typing import Any

from failover.statuspage import v2
from failover.statuspage.data import PageMeta, StatusData
from tests.unit.status_samples import T0, sample

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
STR, INT, BOOL, NULL = "string", "integer", "boolean", "null"
TIME, DATE, LIST = "time", "date", "array"

PAGE = {"id": {STR}, "name": {STR}, "url": {STR}, "time_zone": {STR}, "updated_at": {TIME}}
STATUS = {"indicator": {STR}, "description": {STR}}
COMPONENT = {
    "id": {STR}, "name": {STR}, "status": {STR}, "created_at": {TIME}, "updated_at": {TIME},
    "position": {INT}, "description": {STR, NULL}, "showcase": {BOOL},
    "start_date": {DATE, NULL}, "group_id": {STR, NULL}, "page_id": {STR}, "group": {BOOL},
    "only_show_if_degraded": {BOOL},
}  # fmt: skip
GROUP = {**COMPONENT, "components": {LIST}}
UPDATE = {
    "id": {STR}, "status": {STR}, "body": {STR}, "incident_id": {STR}, "created_at": {TIME},
    "updated_at": {TIME}, "display_at": {TIME}, "affected_components": {LIST, NULL},
    "deliver_notifications": {BOOL}, "custom_tweet": {STR, NULL}, "tweet_id": {STR, NULL},
}  # fmt: skip
INCIDENT = {
    "id": {STR}, "name": {STR}, "status": {STR}, "created_at": {TIME}, "updated_at": {TIME, NULL},
    "monitoring_at": {TIME, NULL}, "resolved_at": {TIME, NULL}, "impact": {STR},
    "shortlink": {STR}, "started_at": {TIME}, "page_id": {STR}, "incident_updates": {LIST},
    "components": {LIST},
}  # fmt: skip
MAINTENANCE = {**INCIDENT, "scheduled_for": {TIME}, "scheduled_until": {TIME}}
COMPONENT_STATUSES = {"operational", "degraded_performance", "partial_outage", "major_outage",
                      "under_maintenance"}  # fmt: skip
INCIDENT_STATES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
MAINTENANCE_STATES = {"scheduled", "in_progress", "verifying", "completed"}
IMPACTS = {"none", "minor", "major", "critical", "maintenance"}


def kind(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, list):
        return LIST
    if isinstance(value, str) and ISO.match(value):
        return TIME
    if isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\d$", value):
        return DATE
    return STR if isinstance(value, str) else type(value).__name__


def check(obj: dict[str, Any], schema: dict[str, set[str]], where: str) -> None:
    assert set(obj) == set(schema), (where, set(obj) ^ set(schema))
    for key, allowed in schema.items():
        got = kind(obj[key])
        # a time is also a string; a field documented as a plain string must not be a time
        assert got in allowed or (got == TIME and STR in allowed), (where, key, obj[key])


def check_incident(doc: dict[str, Any], schema: dict[str, set[str]], states: set[str]) -> None:
    check(doc, schema, f"incident {doc['id']}")
    assert doc["status"] in states and doc["impact"] in IMPACTS
    for u in doc["incident_updates"]:
        check(u, UPDATE, f"update {u['id']}")
        assert u["incident_id"] == doc["id"]
    for c in doc["components"]:
        check(c, COMPONENT, "incident component")


def roundtrip(doc: dict[str, Any]) -> dict[str, Any]:
    """What a client parses: the JSON text, not the Python objects."""
    parsed: dict[str, Any] = json.loads(json.dumps(doc))
    return parsed


def test_summary_has_the_documented_fields_and_types() -> None:
    doc = roundtrip(v2.summary(sample()))
    assert set(doc) == {"page", "components", "incidents", "scheduled_maintenances", "status"}
    check(doc["page"], PAGE, "page")
    check(doc["status"], STATUS, "status")
    for c in doc["components"]:
        check(c, GROUP if c["group"] else COMPONENT, c["name"])
        assert c["status"] in COMPONENT_STATUSES
    assert [i["id"] for i in doc["incidents"]] == ["2"]  # only the unresolved one
    for i in doc["incidents"]:
        check_incident(i, INCIDENT, INCIDENT_STATES)
    assert [m["id"] for m in doc["scheduled_maintenances"]] == ["4", "3"]
    for m in doc["scheduled_maintenances"]:
        check_incident(m, MAINTENANCE, MAINTENANCE_STATES)


def test_every_document_has_its_documented_keys() -> None:
    data = sample()
    docs = {
        "status": (v2.status_doc(data), {"page", "status"}),
        "components": (v2.components_doc(data), {"page", "components"}),
        "incidents": (v2.incidents_doc(data), {"page", "incidents"}),
        "unresolved": (v2.incidents_doc(data, unresolved=True), {"page", "incidents"}),
        "maint": (v2.maintenances_doc(data), {"page", "scheduled_maintenances"}),
        "upcoming": (v2.maintenances_doc(data, "upcoming"), {"page", "scheduled_maintenances"}),
        "active": (v2.maintenances_doc(data, "active"), {"page", "scheduled_maintenances"}),
    }
    for name, (raw, keys) in docs.items():
        doc = roundtrip(raw)
        assert set(doc) == keys, name
        check(doc["page"], PAGE, name)
        for i in doc.get("incidents", []):
            check_incident(i, INCIDENT, INCIDENT_STATES)
        for m in doc.get("scheduled_maintenances", []):
            check_incident(m, MAINTENANCE, MAINTENANCE_STATES)
    assert [i["id"] for i in docs["incidents"][0]["incidents"]] == ["2", "1"]
    assert [m["id"] for m in docs["upcoming"][0]["scheduled_maintenances"]] == ["3"]
    assert [m["id"] for m in docs["active"][0]["scheduled_maintenances"]] == ["4"]


def test_values_follow_the_data() -> None:
    data = sample()
    doc = roundtrip(v2.summary(data))
    assert doc["status"] == {"indicator": "major", "description": "Partial System Outage"}
    assert doc["page"]["updated_at"] == "2026-11-20T12:20:00.000Z"  # newest data, not now
    incident = doc["incidents"][0]
    assert incident["shortlink"] == "https://status.acme.example/status/incidents/2"
    assert [u["status"] for u in incident["incident_updates"]] == ["identified", "investigating"]
    assert incident["monitoring_at"] is None and incident["resolved_at"] is None
    assert [c["id"] for c in incident["components"]] == ["api"]
    groups = [c for c in doc["components"] if c["group"]]
    assert [(g["name"], g["status"], len(g["components"])) for g in groups] == [
        ("Frontends", "under_maintenance", 2)
    ]
    members = [c for c in doc["components"] if c["group_id"] == groups[0]["id"]]
    assert sorted(c["id"] for c in members) == ["cdn", "web"]
    resolved = roundtrip(v2.incidents_doc(data))["incidents"][1]
    assert resolved["resolved_at"] == "2026-11-20T13:00:00.000Z"


def test_an_empty_page_claims_nothing_and_still_has_the_shape() -> None:
    doc = roundtrip(v2.summary(StatusData(meta=PageMeta(), as_of=T0)))
    check(doc["page"], PAGE, "page")
    assert doc["status"]["indicator"] == "none"
    assert "Operational" not in doc["status"]["description"]
    assert doc["components"] == doc["incidents"] == doc["scheduled_maintenances"] == []
