"""The incident vocabulary without I/O: templates, the worst status, which maintenance step
is due when, component specs from config, and the config's checks of [incidents] and
[components.*]."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from failover.config import load_config, parse_config
from failover.errors import ConfigError, InvalidInput
from failover.incidents.model import IncidentIn, MaintenanceIn, validated, worst
from failover.incidents.templates import check_template, render
from failover.incidents.timers import _due_step
from failover.incidents.watch import component_specs
from failover.store.status import Incident

REPO = Path(__file__).resolve().parents[2]
BASE = """
[channels.status]
type = "feed"

[routes.default]
tiers = [["status"]]
"""
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_updates_are_prefixed_with_their_state() -> None:
    assert render("identified", "API errors", "A bad deploy.", "major") == (
        "[Identified] API errors: A bad deploy."
    )
    assert render("in_progress", "DB", "Go.", "maintenance") == "[In progress] DB: Go."
    custom = {"resolved": "{state} — {title} ({impact}): {body}"}
    assert render("resolved", "API", "Fixed.", "major", custom) == "Resolved — API (major): Fixed."
    assert check_template("resolved", "{title} {nope}") is not None
    assert check_template("fixed", "{title}") is not None
    assert check_template("reminder", "Soon: {title}") is None


def test_the_worst_status_wins() -> None:
    assert worst([]) == "operational"
    assert worst(["under_maintenance", "degraded_performance"]) == "degraded_performance"
    assert worst(["partial_outage", "major_outage", "operational"]) == "major_outage"


def test_input_errors_name_the_field() -> None:
    with pytest.raises(InvalidInput) as info:
        validated(IncidentIn, {"title": "t", "body": "b", "components": {"api": "on_fire"}})
    assert info.value.field == "components.api"
    with pytest.raises(InvalidInput) as info:
        validated(IncidentIn, {"title": "t\x00", "body": "b"})
    assert info.value.field == "title"
    times = {"scheduled_for": "2030-01-01T10:00:00Z", "scheduled_until": "2030-01-01T11:00:00Z"}
    with pytest.raises(InvalidInput) as info:
        validated(MaintenanceIn, {"title": "t", "body": "b", **times, "remind_before": "400d"})
    assert info.value.field == "remind_before"
    with pytest.raises(InvalidInput) as info:
        validated(MaintenanceIn, {"title": "t", "body": "b", **times, "scheduled_for": "0001-01-01T00:00:00+01:00"})  # fmt: skip
    assert info.value.field == "scheduled_for"


def maintenance(**kw: object) -> Incident:
    base: dict[str, object] = {
        "id": 1, "kind": "maintenance", "title": "DB", "impact": "maintenance",
        "state": "scheduled", "route": "default", "draft": False, "thread_message_id": 1,
        "scheduled_for": T0, "scheduled_until": T0 + timedelta(hours=1), "remind_before": 600.0,
        "reminded_at": None, "auto_start": True, "auto_complete": True, "created_by": "ann",
        "created_at": T0, "updated_at": T0, "started_at": None, "resolved_at": None,
        "components": {}, "updates": (),
    }  # fmt: skip
    return Incident(**{**base, **kw})  # type: ignore[arg-type]


def test_which_maintenance_step_is_due() -> None:
    m = maintenance()
    assert _due_step(m, T0 - timedelta(minutes=11)) is None
    assert _due_step(m, T0 - timedelta(minutes=9)) == "reminder"
    assert _due_step(maintenance(reminded_at=T0), T0 - timedelta(minutes=1)) is None
    assert _due_step(m, T0) == "in_progress"  # at the start the reminder is moot
    assert _due_step(maintenance(auto_start=False), T0 + timedelta(minutes=5)) is None
    going = maintenance(state="in_progress")
    assert _due_step(going, T0 + timedelta(minutes=59)) is None
    assert _due_step(going, T0 + timedelta(hours=1)) == "completed"
    assert _due_step(maintenance(state="verifying", auto_complete=False), T0 + timedelta(days=1)) is None  # fmt: skip


def test_config_checks_incidents_and_components() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            BASE + '[incidents]\ntemplates.fixed = "x"\n'
            '[components.API]\nname = "x"\n[components.web]\nname = "Web"\nprobe = "ftp://x"\n',
            env={},
        )  # fmt: skip
    text = "\n".join(info.value.problems)
    assert "unknown state 'fixed'" in text
    assert "components.API: use lower-case letters" in text
    assert "components.web.probe" in text
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + '[incidents]\nroute = "nowhere"\n', env={})
    assert info.value.problems == ["incidents.route: no route named 'nowhere'"]


def test_the_example_configs_components_keep_file_order() -> None:
    cfg = load_config(REPO / "config.example.toml", env={})
    specs = component_specs(cfg)
    assert [(s.id, s.position) for s in specs] == [("api", 0), ("web", 1)]
    assert specs[0].probe == "https://api.example.com/health"
    assert cfg.incidents.templates["reminder"].startswith("[Maintenance soon]")
