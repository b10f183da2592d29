"""Upgraded nodes travel as one string each (status.upgradedNodes); in memory they are results in status.nodes."""
from __future__ import annotations

from cniupgrade.api.status import ComputedPlan, NodeResult, NodeState, UpgradePlanStatus

PLAN = ComputedPlan(batches=[["n0"], ["n1", "n2"], ["n3"]], canary_batches=1, max_unavailable=2)


def result(name: str, state: NodeState, started: str | None = "2026-12-01T12:00:00Z",
           finished: str | None = None, message: str = "") -> NodeResult:
    return NodeResult(name=name, state=state, message=message, started_at=started, finished_at=finished)


def test_upgraded_nodes_are_written_compact_and_read_back_equal_in_plan_order():
    status = UpgradePlanStatus(plan=PLAN, nodes=[
        result("n0", NodeState.upgraded, finished="2026-12-01T12:00:07Z", message="upgraded in 7s"),
        result("n1", NodeState.upgrading),
        result("n2", NodeState.upgraded, finished="2026-12-01T12:00:03Z", message="upgraded in 3s"),
        result("n3", NodeState.failed, finished="2026-12-01T12:00:09Z", message="probe failed")])
    wire = status.model_dump(mode="json", by_alias=True)
    assert wire["upgradedNodes"] == ["n0 2026-12-01T12:00:00Z 2026-12-01T12:00:07Z",
                                     "n2 2026-12-01T12:00:00Z 2026-12-01T12:00:03Z"]
    assert [n["name"] for n in wire["nodes"]] == ["n1", "n3"]
    assert UpgradePlanStatus.model_validate(wire) == status  # same order, same messages: not a change


def test_a_status_without_upgraded_nodes_clears_the_stored_list():
    # write_status is a merge patch: a key left out would keep the last rollout's upgraded nodes
    wire = UpgradePlanStatus(plan=PLAN, nodes=[result("n0", NodeState.upgrading)]).model_dump(
        mode="json", by_alias=True)
    assert wire["upgradedNodes"] == []


def test_a_status_listing_upgraded_nodes_in_nodes_still_reads():
    old = {"plan": {"batches": [["a"], ["b"]]}, "nodes": [
        {"name": "a", "state": "Upgraded", "message": "upgraded in 2s", "startedAt": "2026-12-01T12:00:00Z",
         "finishedAt": "2026-12-01T12:00:02Z"}]}
    status = UpgradePlanStatus.model_validate(old)
    assert status.nodes[0].state is NodeState.upgraded and status.nodes[0].finished_at == "2026-12-01T12:00:02Z"


def test_missing_times_survive_the_round_trip():
    status = UpgradePlanStatus(nodes=[result("x", NodeState.upgraded, started=None, finished=None)])
    wire = status.model_dump(mode="json", by_alias=True)
    assert wire["upgradedNodes"] == ["x - -"]
    assert UpgradePlanStatus.model_validate(wire) == status
