"""The shipped dashboard and alert rules only use metrics the daemon exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml
from prometheus_client import generate_latest
from prometheus_client.metrics import MetricWrapperBase

from failover.metrics import Metrics
from failover.model import DeliveryState, Health
from tests import system_tools

DOCS = Path(__file__).resolve().parents[2] / "docs"
NAME = re.compile(r"\bfailover_[a-z_]+")
SELECTOR = re.compile(r"\b(failover_[a-z_]+)\{([^}]*)\}")
MATCHER = re.compile(r'([a-z_]+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
# Label values the daemon can export, per (metric, label).
VALUES = {
    ("failover_channel_state", "state"): {h.value for h in Health},
    ("failover_deliveries_total", "outcome"): {s.value for s in DeliveryState},
}


def exported() -> set[str]:
    text = generate_latest(Metrics().registry).decode()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}


def labels() -> dict[str, set[str]]:
    """Each exported metric's label names (prometheus_client keeps them on the collector)."""
    found = {}
    for value in vars(Metrics()).values():
        if isinstance(value, MetricWrapperBase):
            name = value._name  # the family name, without _total
            kind = value._type
            found[f"{name}_total" if kind == "counter" else name] = set(value._labelnames)
            if kind == "histogram":
                found[name] |= {"le"}
    return found


def check_labels(expr: str, where: str, extra: set[str] | None = None) -> set[str]:
    """Assert ``expr`` selects and groups by labels its metrics have, with values they take;
    return the labels its metrics carry (what a legend or an annotation may name)."""
    known = labels()
    carried = set(extra or ())
    for name in used(expr):
        carried |= known[name]
    for name, matchers in SELECTOR.findall(expr):
        base = name.removesuffix("_bucket")
        for label, op, value in MATCHER.findall(matchers):
            assert label in known[base], (where, name, label)
            if (base, label) in VALUES and op in ("=", "=~"):
                wanted = set(value.split("|")) if op == "=~" else {value}
                assert wanted <= VALUES[base, label], (where, label, wanted - VALUES[base, label])
    for group in GROUPING.findall(expr):
        for label in filter(None, (g.strip() for g in group.split(","))):
            assert label in carried, (where, "grouped by", label)
    return carried


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
        carried = check_labels(rule["expr"], rule["alert"], {"instance", "job"})
        text = " ".join(rule["annotations"].values())
        named = set(re.findall(r"\$labels\.([a-z_]+)", text))
        assert named <= carried, (rule["alert"], named - carried)


def test_dashboard_is_importable_and_uses_exported_metrics() -> None:
    dash = json.loads((DOCS / "grafana-dashboard.json").read_text())
    assert dash["uid"] and dash["panels"]
    known = exported()
    seen: set[str] = set()
    for panel in dash["panels"]:
        assert {"id", "title", "type", "gridPos", "targets"} <= set(panel)
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            names = used(target["expr"])
            assert names <= known, (panel["title"], names - known)
            carried = check_labels(target["expr"], panel["title"])
            legend = set(re.findall(r"\{\{\s*([a-z_]+)\s*\}\}", target.get("legendFormat", "")))
            assert legend <= carried, (panel["title"], legend - carried)
            seen |= names
    # Every exported metric is on the dashboard somewhere.
    assert seen == known, known - seen


def promtool() -> str:
    return system_tools.which(
        "promtool", "apt-get install prometheus (or bash .ci/install-system.sh)"
    )


def test_promtool_accepts_the_rules_and_they_fire_when_they_should(tmp_path: Path) -> None:
    rules = DOCS / "prometheus-alerts.yml"
    check = subprocess.run(
        [promtool(), "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # A channel down for 6 minutes fires FailoverChannelDown (for: 5m); one down for 4 does not.
    (tmp_path / "test.yml").write_text(
        yaml.safe_dump(
            {
                "rule_files": [str(rules)],
                "evaluation_interval": "1m",
                "tests": [
                    {
                        "interval": "1m",
                        "input_series": [
                            {
                                "series": 'failover_channel_state{channel="x",state="down",job="failover",instance="a"}',
                                "values": "1x6",
                            },
                            {
                                "series": 'failover_channel_state{channel="mastodon",state="down",job="failover",instance="a"}',
                                "values": "0 0 1 1 1 1 1",
                            },
                        ],
                        "alert_rule_test": [
                            {
                                "eval_time": "6m",
                                "alertname": "FailoverChannelDown",
                                "exp_alerts": [
                                    {
                                        "exp_labels": {
                                            "severity": "warning",
                                            "channel": "x",
                                            "state": "down",
                                            "job": "failover",
                                            "instance": "a",
                                        },
                                        "exp_annotations": {
                                            "summary": "channel x has been down for 5 minutes",
                                            "description": "Messages are going to later tiers. `failover status` says why; `failover events --channel x` shows the timeline.",
                                        },
                                    }
                                ],
                            }
                        ],
                    }
                ],
            }
        )
    )
    test = subprocess.run(
        [promtool(), "test", "rules", str(tmp_path / "test.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert test.returncode == 0, test.stdout + test.stderr
