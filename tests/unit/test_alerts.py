"""The alert rules, tested with promtool on synthetic series; the PrometheusRule carries the same groups."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "deploy" / "monitoring"


def promtool() -> str:
    path = os.environ.get("PROMTOOL") or str(REPO / ".cache" / "prometheus" / "usr" / "bin" / "promtool")
    assert Path(path).exists(), f"promtool not found at {path}: run the tests through `make test`"
    return path


def test_rules_are_valid_and_every_alert_behaves_on_synthetic_series():
    check = subprocess.run([promtool(), "check", "rules", str(MONITORING / "alerts.rules.yaml")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    result = subprocess.run([promtool(), "test", "rules", "cniupgrade_test.yaml"], cwd=REPO / "tests" / "alerts",
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_every_alert_has_a_promtool_test():
    rules = yaml.safe_load((MONITORING / "alerts.rules.yaml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    tested = {t["alertname"] for case in yaml.safe_load((REPO / "tests" / "alerts" / "cniupgrade_test.yaml").read_text())[
        "tests"] for t in case["alert_rule_test"] if t.get("exp_alerts")}
    assert alerts == tested


def test_prometheus_rule_carries_the_same_groups():
    rules = yaml.safe_load((MONITORING / "alerts.rules.yaml").read_text())
    custom = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert custom["kind"] == "PrometheusRule" and custom["spec"]["groups"] == rules["groups"]


def test_the_service_monitor_keeps_the_plans_namespace_label():
    """Prometheus would rename the metrics' namespace label (the plan's) to exported_namespace otherwise."""
    monitor = yaml.safe_load((MONITORING / "servicemonitor.yaml").read_text())
    assert all(endpoint.get("honorLabels") is True for endpoint in monitor["spec"]["endpoints"])
