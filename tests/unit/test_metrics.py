"""Metrics derived from plan status."""
from __future__ import annotations

from cniupgrade import metrics
from cniupgrade.api.status import CheckResult, Counts, NodeResult, NodeState, Phase, UpgradePlanStatus


def value(name: str, **labels) -> float | None:
    return metrics.REGISTRY.get_sample_value(name, labels)


def status(phase, upgraded=(), pending=3) -> UpgradePlanStatus:
    nodes = [NodeResult(name=n, state=NodeState.upgraded, started_at="2026-11-23T12:00:00Z",
                        finished_at="2026-11-23T12:00:07Z") for n in upgraded]
    return UpgradePlanStatus(phase=phase, nodes=nodes, last_progress_at="2026-11-23T12:00:07Z",
                             counts=Counts(total=len(upgraded) + pending, upgraded=len(upgraded), pending=pending),
                             checks=[CheckResult(id="a", severity="Warning", result="Failed"),
                                     CheckResult(id="b", severity="Error", result="Passed")])


def test_gauges_follow_the_status_and_each_node_is_timed_once():
    before = value("cniupgrade_node_upgrade_duration_seconds_count", plugin="generic") or 0
    first, second = status(Phase.rolling, ["n1"]), status(Phase.rolling, ["n1", "n2"], 1)
    metrics.observe("ns", "p", "generic", first, first.nodes)  # the pass that upgraded n1
    metrics.observe("ns", "p", "generic", second, second.nodes[1:])  # n2
    metrics.observe("ns", "p", "generic", second)  # a pass that upgraded none
    assert value("cniupgrade_plan_phase", namespace="ns", plan="p", phase="Rolling") == 1
    assert value("cniupgrade_plan_phase", namespace="ns", plan="p", phase="Succeeded") == 0
    assert value("cniupgrade_nodes", namespace="ns", plan="p", state="upgraded") == 2
    assert value("cniupgrade_nodes", namespace="ns", plan="p", state="pending") == 1
    assert value("cniupgrade_preflight_findings", namespace="ns", plan="p", severity="Warning") == 1
    assert value("cniupgrade_preflight_findings", namespace="ns", plan="p", severity="Error") == 0
    assert value("cniupgrade_last_progress_timestamp_seconds", namespace="ns", plan="p") == 1795435207.0
    assert value("cniupgrade_node_upgrade_duration_seconds_count", plugin="generic") == before + 2
    assert value("cniupgrade_node_upgrade_duration_seconds_bucket", plugin="generic", le="10.0") >= 2


def test_errors_count_and_a_deleted_plan_leaves_no_series():
    metrics.observe("ns", "gone", "generic", status(Phase.failed))
    metrics.error("ns", "gone")
    assert value("cniupgrade_reconcile_errors_total", namespace="ns", plan="gone") == 1
    metrics.forget("ns", "gone")
    assert value("cniupgrade_plan_phase", namespace="ns", plan="gone", phase="Failed") is None
    assert value("cniupgrade_reconcile_errors_total", namespace="ns", plan="gone") is None


def test_gauges_are_set_again_after_a_plan_is_forgotten_and_not_rewritten_when_unchanged():
    running = status(Phase.rolling, ["n1"])
    metrics.observe("ns", "again", "generic", running)
    metrics.forget("ns", "again")
    metrics.observe("ns", "again", "generic", running)  # a plan of the same name, same status
    assert value("cniupgrade_plan_phase", namespace="ns", plan="again", phase="Rolling") == 1
    metrics.nodes.labels("ns", "again", "upgraded").set(42)  # not ours to keep in sync: proves no re-set
    metrics.observe("ns", "again", "generic", running.model_copy())
    assert value("cniupgrade_nodes", namespace="ns", plan="again", state="upgraded") == 42
    metrics.observe("ns", "again", "generic", status(Phase.rolling, ["n1", "n2"], 1))
    assert value("cniupgrade_nodes", namespace="ns", plan="again", state="upgraded") == 2
