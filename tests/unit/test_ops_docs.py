"""The shipped dashboard and alert rules only use metrics the daemon exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import generate_latest

from failover.metrics import Metrics

DOCS = Path(__file__).resolve().parents[2] / "docs"
NAME = re.compile(r"\bfailover_[a-z_]+")


def exported() -> set[str]:
    text = generate_latest(Metrics().registry).decode()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}


def used(expr: str) -> set[str]:
    names = set()
    for found in NAME.findall(expr):
        name = found
        for suffix in ("_bucket", "_count", "_sum"):
            name = name.removesuffix(suffix)
        names.add(name)
    return names


def test_alert_rules_are_valid_and_use_exported_metrics() -> None:
    doc = yaml.safe_load((DOCS / "prometheus-alerts.yml").read_text())
    rules = [r for group in doc["groups"] for r in group["rules"]]
    assert len(rules) >= 5
    known = exported()
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["alert"] and rule["expr"] and rule["annotations"]["summary"]
        assert used(rule["expr"]) <= known, (rule["alert"], used(rule["expr"]) - known)


def test_dashboard_is_importable_and_uses_exported_metrics() -> None:
    dash = json.loads((DOCS / "grafana-dashboard.json").read_text())
    assert dash["uid"] and dash["panels"]
    known = exported()
    seen: set[str] = set()
    for panel in dash["panels"]:
        assert {"id", "title", "type", "gridPos", "targets"} <= set(panel)
        for target in panel["targets"]:
            names = used(target["expr"])
            assert names <= known, (panel["title"], names - known)
            seen |= names
    # Every exported metric is on the dashboard somewhere.
    assert seen == known, known - seen
