"""Every metric, label and literal label value that the Grafana dashboard and the alert rules query is served by
the running operator's /metrics during a real rollout (the reading of PromQL is unit-tested in
tests/unit/test_dashboard.py, with deliberate mistakes)."""
from __future__ import annotations

import time
import urllib.request

from localcluster.waiting import wait_for
from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import create_agent
from tests.promql_names import exported, problems, queries


def metrics_text(url: str) -> str:
    try:
        return urllib.request.urlopen(url, timeout=5).read().decode()
    except OSError:
        return ""  # a just (re)started operator serves its metrics a moment later


def test_every_queried_series_is_served_by_the_live_operator(admin_api, namespace, operator, plans):
    wait_for(lambda: metrics_text(operator.metrics_url), 30, "the operator's /metrics")
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="300ms")
    plans.create(rollout={"maxUnavailable": 2})
    series: dict = {}
    phases = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # scraped all along: mid-rollout series count too
        phase = plans.status().get("phase")
        phases.append(phase)
        exported(metrics_text(operator.metrics_url), into=series)
        if phase == "Succeeded":
            break
        time.sleep(0.3)
    assert plans.status()["phase"] == "Succeeded", phases
    assert "Rolling" in phases or "Canary" in phases, phases  # scraped mid-rollout, not only at the end

    checked = queries()
    assert {where.split()[0] for where, _ in checked} == {"dashboard", "alerts.rules.yaml", "prometheusrule.yaml"}
    assert problems(checked, series) == []
    # the check had labels and values to compare with: this plan's series and the timed nodes
    assert namespace in series["cniupgrade_nodes"]["namespace"]
    assert series["cniupgrade_node_upgrade_duration_seconds_bucket"]["plugin"] >= {"generic"}
    # and it would have caught a mistake against these same live series
    assert problems([("deliberate", 'cniupgrade_plan_phaze or cniupgrade_nodes{state="Upgraded"}')], series) == [
        "deliberate: cniupgrade_plan_phaze is not exported", "deliberate: cniupgrade_nodes{state} never has "
                                                              "['Upgraded']"]
