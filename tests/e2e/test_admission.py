"""Invalid plans are refused by the API server at apply time, with a message naming the field."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import create_agent, plan_body, plan_events
from localcluster.waiting import wait_for


def spec_with(**changes) -> dict:
    body = plan_body("default")
    spec = body["spec"]
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = spec
        for key in parents:
            node = node.setdefault(key, {})
        if value is DELETE:
            node.pop(leaf)
        else:
            node[leaf] = value
    return body


DELETE = object()
WINDOW = {"days": ["Mon"], "start": "01:00", "end": "02:00"}

CASES = {
    "zero batch": ({"rollout.maxUnavailable": 0}, "spec.rollout.maxUnavailable"),
    "negative batch": ({"rollout.maxUnavailable": -2}, "spec.rollout.maxUnavailable"),
    "zero percent": ({"rollout.maxUnavailable": "0%"}, "spec.rollout.maxUnavailable"),
    "percent over 100": ({"rollout.maxUnavailable": "150%"}, "spec.rollout.maxUnavailable"),
    "batch as words": ({"rollout.maxUnavailable": "two"}, "spec.rollout.maxUnavailable"),
    "timeout as text": ({"rollout.nodeTimeoutSeconds": "soon"}, "spec.rollout.nodeTimeoutSeconds"),
    "timeout too short": ({"rollout.nodeTimeoutSeconds": 1}, "spec.rollout.nodeTimeoutSeconds"),
    "negative canary": ({"rollout.canary.count": -1}, "spec.rollout.canary.count"),
    "unknown plugin": ({"plugin": "calico"}, "spec.plugin"),
    "missing target": ({"targetVersion": DELETE}, "spec.targetVersion"),
    "empty target": ({"targetVersion": ""}, "spec.targetVersion"),
    "generic without daemonset": ({"daemonSet": DELETE}, "spec"),
    "bad window hour": ({"window": {**WINDOW, "start": "25:00"}}, "spec.window.start"),
    "empty window": ({"window": {**WINDOW, "end": "01:00"}}, "spec.window.end"),
    "bad weekday": ({"window": {**WINDOW, "days": ["Funday"]}}, "spec.window.days[0]"),
    "no weekdays": ({"window": {**WINDOW, "days": []}}, "spec.window.days"),
    "unknown order": ({"rollout.order": "Random"}, "spec.rollout.order"),
    "unknown mode": ({"rollout.mode": "Fast"}, "spec.rollout.mode"),
    "batch delay in window mode": ({"rollout.batchDelaySeconds": 30}, "spec.rollout.batchDelaySeconds"),
    "unknown field": ({"rollout.maxUnavalable": 3}, "spec.rollout.maxUnavalable"),
    "paused as text": ({"paused": "yes"}, "spec.paused"),
    "bad namespace": ({"namespace": "Kube_System"}, "spec.namespace"),
    "canary too large": ({"rollout.canary.count": 101}, "spec.rollout.canary.count"),
    "negative batch delay": ({"rollout.batchDelaySeconds": -1}, "spec.rollout.batchDelaySeconds"),
    "timeout too long": ({"rollout.nodeTimeoutSeconds": 100000}, "spec.rollout.nodeTimeoutSeconds"),
    "probe timeout too short": ({"rollout.probe.timeoutSeconds": 1}, "spec.rollout.probe.timeoutSeconds"),
    "time zone with a space": ({"window": {**WINDOW, "timeZone": "Europe Berlin"}}, "spec.window.timeZone"),
    "weekday twice": ({"window": {**WINDOW, "days": ["Mon", "Mon"]}}, "spec.window.days[1]"),
    "target with a space": ({"targetVersion": "1.2 beta"}, "spec.targetVersion"),
    "daemonset name in capitals": ({"daemonSet": {"name": "CNI-Agent"}}, "spec.daemonSet.name"),
    "pre-pull timeout too short": ({"prePull": {"timeoutSeconds": 5}}, "spec.prePull.timeoutSeconds"),
    "unknown uk8s component": ({"uk8s": {"component": "all"}}, "spec.uk8s.component"),
    "kubernetes minor malformed": ({"uk8s": {"maintainedKubernetesMinors": ["2.x"]}},
                                   "spec.uk8s.maintainedKubernetesMinors[0]"),
    "bad helm release name": ({"spiderpool": {"releaseName": "Spider_Pool"}}, "spec.spiderpool.releaseName"),
    "migrations as text": ({"migrations": {"enabled": "sometimes"}}, "spec.migrations.enabled"),
    "skip list as text": ({"preflight": {"skip": "all"}}, "spec.preflight.skip"),
    "skipping a security check": ({"preflight": {"skip": ["security.image-policy"]}}, "spec.preflight.skip[0]"),
    "service account in capitals": ({"serviceAccountName": "Admin"}, "spec.serviceAccountName"),
    "chart without an account": ({"chart": {"repository": "https://charts.example.com"}}, "spec.chart"),
    "chart repository not a URL": ({"chart": {"repository": "charts.example.com"}, "serviceAccountName": "up"},
                                   "spec.chart.repository"),
    "chart with two sources": ({"chart": {"repository": "https://charts.example.com",
                                          "archive": {"configMap": "chart"}}, "serviceAccountName": "up"},
                               "spec.chart"),
    "chart archive in two places": ({"chart": {"archive": {"configMap": "chart", "secret": "chart"}},
                                     "serviceAccountName": "up"}, "spec.chart.archive"),
    "chart digest not sha256": ({"chart": {"repository": "https://charts.example.com", "digest": "md5:abc"},
                                 "serviceAccountName": "up"}, "spec.chart.digest"),
    "plain http for an http repository": ({"chart": {"repository": "https://charts.example.com", "plainHttp": True},
                                           "serviceAccountName": "up"}, "spec.chart.plainHttp"),
    "generic chart without its name": ({"plugin": "generic", "daemonSet": {"name": "agent"},
                                        "chart": {"repository": "https://charts.example.com", "releaseName": "cni"},
                                        "serviceAccountName": "up"}, "spec.chart"),
    "values from an unknown kind": ({"chart": {"repository": "oci://r.example/charts", "valuesFrom": [
        {"kind": "Pod", "name": "v"}]}, "serviceAccountName": "up"}, "spec.chart.valuesFrom[0].kind"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_invalid_plan_is_rejected_naming_the_field(kubectl, operator_rbac, case):
    changes, field = CASES[case]
    result = kubectl("apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump(spec_with(**changes)),
                     check=False)
    assert result.returncode != 0, f"{case}: accepted\n{result.stdout}"
    assert field in result.stderr, f"{case}: {result.stderr}"


def test_valid_plan_passes_the_same_checks(kubectl, operator_rbac):
    result = kubectl("apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump(spec_with(window=WINDOW)))
    assert "created (server dry run)" in result.stdout


FIXED_WHILE_ROLLING = {"targetVersion": "v9.9.9", "plugin": "spiderpool", "namespace": "elsewhere",
                       "chart": {"repository": "oci://registry.example.com/charts", "name": "agent"}}


def test_what_the_plan_was_made_for_is_immutable_while_rolling(kubectl, admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="2s")
    plans.create(rollout={"maxUnavailable": 1})
    wait_for(lambda: plans.status().get("startedAt"), 30, "the rollout to start")
    for field, value in FIXED_WHILE_ROLLING.items():
        result = kubectl("patch", "upgradeplan", "upgrade", "-n", namespace, "--type=merge",
                         "-p", json.dumps({"spec": {field: value}}), check=False)
        assert result.returncode != 0, field
        assert f"spec.{field} is immutable while the rollout runs" in result.stderr, result.stderr
    # other fields stay editable; one the plan was made with is said to wait for the rollout's end
    plans.patch_spec(rollout={"maxUnavailable": 2})
    events = plan_events(admin_api, namespace, "SpecChangeDeferred")
    [deferred] = [e for e in events if e.reason == "SpecChangeDeferred"]
    assert deferred.type == "Warning" and "until this rollout ends" in deferred.message
    assert plans.status()["deferredSpecHash"]
    plans.patch_spec(paused=True)


@pytest.mark.parametrize("example", sorted(p.name for p in (Path(__file__).parents[2] / "examples").glob("*.yaml")))
def test_every_example_passes_admission(kubectl, operator_rbac, example):
    path = Path(__file__).parents[2] / "examples" / example
    for namespace in {d["metadata"].get("namespace") for d in yaml.safe_load_all(path.read_text()) if d} - {None}:
        kubectl("create", "namespace", namespace, check=False)  # the examples' own (already there: refused, fine)
    result = kubectl("apply", "--dry-run=server", "-f", str(path), check=False)
    assert result.returncode == 0 and "created (server dry run)" in result.stdout, result.stderr
