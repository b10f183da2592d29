"""A node in flight carries the plan's NoSchedule taint: on before its pod goes, off when it passes, when the plan
ends or rolls back, decided from the taints the nodes show."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
from kubernetes.client.rest import ApiException

from cniupgrade.api.status import Phase, UpgradePlanStatus
from cniupgrade.kube.taints import remove_plan_taints, set_in_flight_taint
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.decide import decide
from cniupgrade.rollout.in_flight_taint import CHECK_ID, taint_value
from cniupgrade.rollout.placement import Placement
from cniupgrade.seams.objects import IN_FLIGHT_TAINT_KEY, NodeInfo, Taint
from tests.unit.builders import NEW, NEW_IMAGES, OLD, OLD_IMAGES, PLAN, observe, pod, spec
from tests.unit.test_decide_rollback_on_demand import ASKED, succeeded

OURS = taint_value(PLAN)


def taints(decision, on: bool | None = None) -> list[str]:
    return [a.node for a in decision.actions if isinstance(a, act.SetInFlightTaint) and (on is None or a.on is on)]


def tainted(obs, *names: str, value: str = OURS):
    """The observation with these nodes showing an in-flight taint of `value`."""
    nodes = {n: replace(info, taints=(Taint(IN_FLIGHT_TAINT_KEY, "NoSchedule", value),)) if n in names else info
             for n, info in obs.nodes.items()}
    return replace(obs, nodes=nodes)


def started(plan_spec=None):
    plan_spec = plan_spec or spec()
    first = decide(plan_spec, UpgradePlanStatus(), observe(), 1)
    canary = decide(plan_spec, first.status, observe(owner=PLAN), 1)
    return plan_spec, canary


def test_a_node_is_tainted_before_its_agent_pod_is_deleted():
    _, canary = started()
    kinds = [type(a) for a in canary.actions]
    assert taints(canary, on=True) == ["n0"] and canary.tainted == 1
    assert kinds.index(act.SetInFlightTaint) < kinds.index(act.DeletePod)


def test_the_taint_comes_off_in_the_pass_the_gate_passes_and_is_not_put_on_twice():
    plan_spec, canary = started()
    waiting = decide(plan_spec, canary.status, tainted(observe(owner=PLAN, pods=[pod("n0", NEW, ready=False)] + [
        pod(f"n{i}") for i in range(1, 5)]), "n0"), 1)
    assert taints(waiting) == [] and waiting.tainted == 1  # shown on the node: nothing to do
    pods = [pod("n0", NEW)] + [pod(f"n{i}") for i in range(1, 5)]
    passed = decide(plan_spec, waiting.status, tainted(observe(owner=PLAN, pods=pods), "n0"), 1)
    assert taints(passed, on=False) == ["n0"] and passed.tainted == 0
    off = next(a for a in passed.actions if isinstance(a, act.SetInFlightTaint))
    assert off.seen == (Taint(IN_FLIGHT_TAINT_KEY, "NoSchedule", OURS),)  # written guarded by what the watch showed
    kinds = [type(a) for a in passed.actions]
    assert kinds[0] is act.SetInFlightTaint  # with the pass's other node patches, before its deletions


def test_a_finished_plan_takes_its_stale_taints_off_and_leaves_other_plans_ones():
    plan_spec, canary = started()
    pods = [pod(f"n{i}", NEW) for i in range(5)]
    obs = tainted(tainted(observe(owner=PLAN, pods=pods), "n1", "n3"), "n4", value="another-plan")
    done, untainted = canary, []
    while done.status.phase is not Phase.succeeded:
        done = decide(plan_spec, done.status, obs, 1)
        assert not taints(done, on=True)  # every agent is new: nothing is in flight
        untainted += taints(done, on=False)
    assert set(untainted) == {"n1", "n3"} and done.tainted == 0  # asked each pass until the nodes show it


def test_a_node_another_plan_tainted_is_not_tainted_again():
    plan_spec = spec()
    first = decide(plan_spec, UpgradePlanStatus(), observe(), 1)
    canary = decide(plan_spec, first.status, tainted(observe(owner=PLAN), "n0", value="another-plan"), 1)
    assert [a.node for a in canary.actions if isinstance(a, act.DeletePod)] == ["n0"]
    assert taints(canary) == []


def test_turned_off_no_node_is_tainted():
    _, canary = started(spec(rollout={"taintInFlight": False}))
    assert taints(canary) == [] and canary.tainted == 0


def test_an_agent_that_does_not_tolerate_the_taint_gets_no_taint_and_a_warning():
    picky = Placement(node_selector={}, node_terms=None, tolerations=({"key": "other", "operator": "Exists"},))
    plan_spec = spec()

    def obs(**kw):
        o = observe(**kw)
        return replace(o, daemonset=replace(o.daemonset, placement=picky))
    first = decide(plan_spec, UpgradePlanStatus(), obs(), 1)
    (check,) = [c for c in first.status.checks if c.id == CHECK_ID]
    assert check.severity == "Warning" and check.result == "Failed" and "taintInFlight" in check.remediation
    canary = decide(plan_spec, first.status, obs(owner=PLAN), 1)
    assert [a.node for a in canary.actions if isinstance(a, act.DeletePod)] == ["n0"] and taints(canary) == []
    strict = spec(preflight={"warningsBlock": True})  # a Warning blocks there, this one too
    held = decide(strict, UpgradePlanStatus(), obs(), 1)
    passed = next(c for c in held.status.conditions if c.type == "PreflightPassed")
    assert held.status.phase is Phase.preflight and passed.status == "False" and CHECK_ID in passed.message
    assert not [a for a in held.actions if isinstance(a, act.TakeOwnership)]


def test_a_tainted_node_is_still_an_agent_node():
    placement = Placement(node_selector={}, node_terms=None, tolerations=())
    assert placement.runs_on(NodeInfo("n0", taints=(Taint(IN_FLIGHT_TAINT_KEY, "NoSchedule", OURS),)))
    assert not placement.runs_on(NodeInfo("n0", taints=(Taint("dedicated", "NoSchedule", "x"),)))


def test_nodes_rolled_back_are_tainted_while_they_are_replaced_and_untainted_once_back():
    plan_spec = spec()
    done = succeeded(plan_spec)
    released = observe(pods=[pod(f"n{i}", NEW) for i in range(5)], images=NEW_IMAGES, revision=NEW)
    d = decide(plan_spec, done, released, 1, rollback=ASKED)
    d = decide(plan_spec, d.status, released, 1, rollback=ASKED)  # held again with the previous images
    held = observe(owner=PLAN, pods=[pod(f"n{i}", NEW) for i in range(5)], images=OLD_IMAGES, revision=OLD)
    d = decide(plan_spec, d.status, held, 1, rollback=ASKED)
    (first,) = [a.node for a in d.actions if isinstance(a, act.DeletePod)]
    kinds = [type(a) for a in d.actions]
    assert taints(d, on=True) == [first] and kinds.index(act.SetInFlightTaint) < kinds.index(act.DeletePod)
    back = [pod(f"n{i}", OLD if f"n{i}" == first else NEW) for i in range(5)]
    d = decide(plan_spec, d.status, tainted(observe(owner=PLAN, pods=back, images=OLD_IMAGES, revision=OLD), first),
               1, rollback=ASKED)
    assert first in taints(d, on=False) and len(taints(d, on=True)) == 2  # the next two, tainted in turn


class FakeCore:
    """read_node / patch_node / list_node on one dict, with resourceVersion preconditions."""

    def __init__(self, nodes: dict[str, list[dict]], conflicts: int = 0):
        self.nodes = {n: {"metadata": {"name": n, "resourceVersion": "1"}, "spec": {"taints": t}}
                      for n, t in nodes.items()}
        self.conflicts, self.patches, self.reads, self.pages = conflicts, 0, 0, 0

    class Raw:
        def __init__(self, data):
            self.data = json.dumps(data).encode()

    def read_node(self, name, _preload_content=True):
        self.reads += 1
        if name not in self.nodes:
            raise ApiException(status=404)
        return self.Raw(self.nodes[name])

    def list_node(self, _preload_content=True, limit=None, _continue=None):
        """Pages of `limit` nodes, as the API server gives them."""
        self.pages += 1
        names = sorted(self.nodes)
        start = int(_continue or 0)
        end = len(names) if limit is None else start + limit
        more = {"continue": str(end)} if end < len(names) else {}
        return self.Raw({"items": [self.nodes[n] for n in names[start:end]], "metadata": more})

    def patch_node(self, name, body):
        if name not in self.nodes:
            raise ApiException(status=404)
        node = self.nodes[name]
        if isinstance(body, list):  # a JSON patch: test the taints, then add (replace) or remove them
            test, change = body
            if (node["spec"]["taints"] or None) != test["value"]:
                raise ApiException(status=422)
            self.patches += 1
            node["spec"]["taints"] = change.get("value") or []
            return
        if self.conflicts:
            self.conflicts -= 1
            node["metadata"]["resourceVersion"] = str(int(node["metadata"]["resourceVersion"]) + 1)
        if body["metadata"]["resourceVersion"] != node["metadata"]["resourceVersion"]:
            raise ApiException(status=409)
        self.patches += 1
        node["spec"]["taints"] = body["spec"]["taints"] or []
        node["metadata"]["resourceVersion"] = str(int(node["metadata"]["resourceVersion"]) + 1)


CORDON = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


def test_the_taint_is_added_beside_others_and_survives_a_concurrent_change():
    core = FakeCore({"n0": [CORDON]}, conflicts=2)
    assert set_in_flight_taint(core, "n0", OURS, on=True)
    assert core.nodes["n0"]["spec"]["taints"] == [CORDON, {"key": IN_FLIGHT_TAINT_KEY, "value": OURS,
                                                           "effect": "NoSchedule"}]
    assert not set_in_flight_taint(core, "n0", OURS, on=True) and core.patches == 1  # there already
    assert set_in_flight_taint(core, "n0", OURS, on=False)
    assert core.nodes["n0"]["spec"]["taints"] == [CORDON]
    assert not set_in_flight_taint(core, "gone", OURS, on=False)


def test_with_the_taints_the_watch_saw_one_guarded_patch_and_no_read():
    core = FakeCore({"n0": [CORDON]})
    seen = (Taint(CORDON["key"], CORDON["effect"]),)
    assert set_in_flight_taint(core, "n0", OURS, on=True, seen=seen)
    ours = {"key": IN_FLIGHT_TAINT_KEY, "effect": "NoSchedule", "value": OURS}
    assert core.nodes["n0"]["spec"]["taints"] == [CORDON, ours] and (core.reads, core.patches) == (0, 1)
    assert set_in_flight_taint(core, "n0", OURS, on=False, seen=(*seen, Taint(IN_FLIGHT_TAINT_KEY, "NoSchedule", OURS)))
    assert core.nodes["n0"]["spec"]["taints"] == [CORDON] and core.reads == 0
    untainted = FakeCore({"n1": []})
    assert set_in_flight_taint(untainted, "n1", OURS, on=True, seen=()) and untainted.reads == 0
    assert not set_in_flight_taint(untainted, "gone", OURS, on=True, seen=())


def test_taints_changed_since_the_watch_are_read_and_kept():
    other = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    core = FakeCore({"n0": [CORDON, other]})  # someone added `dedicated` after the watch showed only the cordon
    assert set_in_flight_taint(core, "n0", OURS, on=True, seen=(Taint(CORDON["key"], CORDON["effect"]),))
    assert core.reads == 1 and core.nodes["n0"]["spec"]["taints"] == [
        CORDON, other, {"key": IN_FLIGHT_TAINT_KEY, "value": OURS, "effect": "NoSchedule"}]


def test_a_conflict_that_never_ends_is_raised():
    core = FakeCore({"n0": []}, conflicts=100)
    with pytest.raises(ApiException):
        set_in_flight_taint(core, "n0", OURS, on=True)


def test_a_deleted_plan_takes_off_its_own_taints_only():
    theirs = {"key": IN_FLIGHT_TAINT_KEY, "value": "another-plan", "effect": "NoSchedule"}
    ours = {"key": IN_FLIGHT_TAINT_KEY, "value": OURS, "effect": "NoSchedule"}
    core = FakeCore({"n0": [ours], "n1": [theirs], "n2": [CORDON, ours], "n3": []})
    assert remove_plan_taints(core, OURS) == ["n0", "n2"]
    assert [core.nodes[n]["spec"]["taints"] for n in ("n0", "n1", "n2", "n3")] == [[], [theirs], [CORDON], []]


def test_a_deleted_plan_reads_the_nodes_a_page_at_a_time(monkeypatch):
    monkeypatch.setattr("cniupgrade.kube.client.PAGE", 2)  # 5000 whole nodes in one list briefly took 90 MiB
    ours = {"key": IN_FLIGHT_TAINT_KEY, "value": OURS, "effect": "NoSchedule"}
    core = FakeCore({f"n{i}": [ours] if i % 2 else [] for i in range(7)})
    assert remove_plan_taints(core, OURS) == ["n1", "n3", "n5"]
    assert core.pages == 4  # 7 nodes, 2 a page
