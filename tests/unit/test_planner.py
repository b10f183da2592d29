"""The pure planner."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cniupgrade.api.models import Canary, NodeOrder, Rollout
from cniupgrade.rollout.planner import compute_plan, resolve_max_unavailable
from cniupgrade.seams.objects import NodeInfo


def nodes(count: int, zones=("a", "b", "c")) -> list[NodeInfo]:
    return [NodeInfo(f"n{i:02d}", {"topology.kubernetes.io/zone": zones[i % len(zones)], "pool": "x" if i % 2 else "y"})
            for i in range(count)]


def names(items) -> set[str]:
    return {n.name for n in items}


def test_canary_first_then_batches_of_max_unavailable():
    all_nodes = nodes(10)
    plan = compute_plan(all_nodes, names(all_nodes), Rollout(max_unavailable=4))
    assert plan.batches == [["n00"], ["n01", "n02", "n03", "n04"], ["n05", "n06", "n07", "n08"], ["n09"]]
    assert plan.canary_batches == 1 and plan.max_unavailable == 4 and plan.excluded == []


def test_percent_rounds_up_like_the_daemonset_controller_and_never_below_one():
    assert resolve_max_unavailable("25%", 10) == 3
    assert resolve_max_unavailable("1%", 10) == 1
    assert resolve_max_unavailable("100%", 7) == 7
    assert resolve_max_unavailable(3, 0) == 3
    assert resolve_max_unavailable("50%", 0) == 1


def test_excluded_nodes_say_why():
    all_nodes = [NodeInfo("a"), NodeInfo("b", ready=False), NodeInfo("c", schedulable=False), NodeInfo("d"),
                 NodeInfo("e", {"pool": "other"})]
    plan = compute_plan(all_nodes, {"a", "b", "c", "e"}, Rollout(node_selector=None))
    assert plan.excluded == ["b: not Ready", "d: no agent pod"]
    assert [n for b in plan.batches for n in b] == ["a", "c", "e"]  # a cordoned node still runs pods: upgraded
    skipping = compute_plan(all_nodes, {"a", "b", "c", "e"}, Rollout(skip_cordoned=True))
    assert skipping.excluded == ["b: not Ready", "c: unschedulable (cordoned; spec.rollout.skipCordoned)",
                                 "d: no agent pod"]
    selected = compute_plan(all_nodes, {"a", "e"}, Rollout(node_selector={"pool": "other"}))
    assert [n for b in selected.batches for n in b] == ["e"]
    assert "a: not selected by spec.rollout.nodeSelector" in selected.excluded


def test_canary_by_selector_is_split_when_larger_than_max_unavailable():
    all_nodes = nodes(9)
    plan = compute_plan(all_nodes, names(all_nodes),
                        Rollout(canary=Canary(node_selector={"pool": "x"}), max_unavailable=2))
    assert plan.canary_batches == 2
    assert plan.batches[:2] == [["n01", "n03"], ["n05", "n07"]]
    assert all(len(b) <= 2 for b in plan.batches)


def test_by_zone_keeps_zones_together():
    all_nodes = nodes(6)
    plan = compute_plan(all_nodes, names(all_nodes), Rollout(order=NodeOrder.by_zone, max_unavailable=2,
                                                             canary=Canary(count=0)))
    assert plan.batches == [["n00", "n03"], ["n01", "n04"], ["n02", "n05"]]
    assert plan.canary_batches == 0


@given(count=st.integers(0, 60), max_unavailable=st.one_of(st.integers(1, 20), st.integers(1, 100).map(lambda p: f"{p}%")),
       canary=st.integers(0, 10), missing=st.sets(st.integers(0, 59)), order=st.sampled_from(list(NodeOrder)))
def test_every_eligible_node_once_canary_first_batches_bounded_and_deterministic(count, max_unavailable, canary,
                                                                               missing, order):
    all_nodes = nodes(count)
    with_agent = {n.name for i, n in enumerate(all_nodes) if i not in missing}
    rollout = Rollout(max_unavailable=max_unavailable, canary=Canary(count=canary), order=order)
    plan = compute_plan(all_nodes, with_agent, rollout)
    planned = [n for b in plan.batches for n in b]
    assert sorted(planned) == sorted(with_agent)  # each eligible node exactly once
    assert all(0 < len(b) <= plan.max_unavailable for b in plan.batches)
    canary_nodes = [n for b in plan.batches[:plan.canary_batches] for n in b]
    assert len(canary_nodes) == min(canary, len(with_agent))
    assert planned[:len(canary_nodes)] == canary_nodes
    assert compute_plan(list(reversed(all_nodes)), with_agent, rollout) == plan  # input order does not matter


def test_profile_exclusions_leave_nodes_out_with_their_reason():
    all_nodes = nodes(4)
    plan = compute_plan(all_nodes, names(all_nodes), Rollout(), {"n02": "CNI version unreadable"})
    assert "n02: CNI version unreadable" in plan.excluded
    assert "n02" not in [n for b in plan.batches for n in b] and len([n for b in plan.batches for n in b]) == 3
