"""Upgraded nodes travel as one string each (status.upgradedNodes); in memory they are results in status.nodes."""
from __future__ import annotations

from cniupgrade.api.status import (COMPACT_ABOVE, ComputedPlan, NodeResult, NodeState, UpgradePlanStatus, positions,
                                   ranges, upgraded_names)

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


def test_in_a_large_plan_upgraded_nodes_travel_as_position_ranges():
    """Above COMPACT_ABOVE planned nodes, a string per node is too much (4.2 MiB at 65,000 nodes): positions."""
    count = COMPACT_ABOVE + 500
    plan = ComputedPlan(batches=[[f"n{i}" for i in range(b, min(b + 10, count))] for b in range(0, count, 10)],
                        max_unavailable=10)
    nodes = [result(f"n{i}", NodeState.upgraded, finished="2026-12-01T12:00:07Z") for i in range(count) if i != 7]
    nodes.insert(7, result("n7", NodeState.failed, finished="2026-12-01T12:00:09Z", message="probe failed"))
    wire = UpgradePlanStatus(plan=plan, nodes=nodes).model_dump(mode="json", by_alias=True)
    assert wire["upgradedRanges"] == f"0-6,8-{count - 1}" and wire["upgradedNodes"] == []
    assert [n["name"] for n in wire["nodes"]] == ["n7"]
    named = upgraded_names(wire)  # what readers of the raw status (kubectl cniupgrade) see
    assert len(named) == count - 1 and named[:8] == ["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n8"]
    read = UpgradePlanStatus.model_validate(wire)
    assert [r.name for r in read.nodes] == [f"n{i}" for i in range(count)]  # plan order, the failed one in place
    assert {r.state for r in read.nodes if r.name != "n7"} == {NodeState.upgraded} and read.nodes[7].message
    assert read.nodes[0].started_at is None  # per-node times are not kept at this size


def test_ranges_read_back_what_they_were_made_from():
    for sample in ([], [0], [0, 1, 2, 5, 7, 8], [3, 4, 10]):
        assert positions(ranges(sample)) == sample
    assert ranges([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
