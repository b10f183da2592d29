"""The nodes a DaemonSet runs on, as its controller decides: the plan accounts for these and no others."""
from __future__ import annotations

from dataclasses import replace

from cniupgrade.api.status import UpgradePlanStatus
from cniupgrade.rollout.decide import decide
from cniupgrade.rollout.placement import Placement
from cniupgrade.seams.objects import NodeInfo, Taint
from tests.unit.builders import NEW, PLAN, observe, pod, spec


def affinity(*terms):
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": list(terms)}}}}


def runs(pod_spec, node):
    return Placement.of_template(pod_spec).runs_on(node)


def test_node_selector_and_required_affinity_choose_the_nodes():
    linux = NodeInfo("a", labels={"kubernetes.io/os": "linux", "cores": "8"})
    windows = NodeInfo("b", labels={"kubernetes.io/os": "windows"})
    assert runs({"nodeSelector": {"kubernetes.io/os": "linux"}}, linux)
    assert not runs({"nodeSelector": {"kubernetes.io/os": "linux"}}, windows)
    not_windows = affinity({"matchExpressions": [{"key": "kubernetes.io/os", "operator": "NotIn",
                                                  "values": ["windows"]}]})
    assert runs(not_windows, linux) and not runs(not_windows, windows)
    big = affinity({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]})
    assert runs(big, linux) and not runs(big, windows)
    either = affinity({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]},
                      {"matchExpressions": [{"key": "cores", "operator": "Exists"}]})
    assert runs(either, linux) and runs(either, windows)  # terms are ORed
    assert not runs(affinity({}), linux)  # an empty term matches no node


def test_taints_keep_the_agent_off_unless_tolerated():
    gpu = NodeInfo("g", taints=(Taint("gpu", "NoSchedule", "true"),))
    assert not runs({}, gpu)
    assert runs({"tolerations": [{"key": "gpu", "operator": "Equal", "value": "true"}]}, gpu)
    assert not runs({"tolerations": [{"key": "gpu", "operator": "Equal", "value": "false"}]}, gpu)
    assert runs({"tolerations": [{"operator": "Exists"}]}, gpu)
    assert runs({}, NodeInfo("p", taints=(Taint("soft", "PreferNoSchedule"),)))


def test_the_controllers_own_tolerations_and_down_nodes_count():
    cordoned = NodeInfo("c", schedulable=False, taints=(Taint("node.kubernetes.io/unschedulable", "NoSchedule"),))
    down = NodeInfo("d", ready=False, taints=(Taint("node.kubernetes.io/unreachable", "NoSchedule"),
                                              Taint("node.kubernetes.io/unreachable", "NoExecute")))
    no_network = NodeInfo("n", taints=(Taint("node.kubernetes.io/network-unavailable", "NoSchedule"),))
    assert runs({}, cordoned) and runs({}, down)
    assert runs({"hostNetwork": True}, no_network) and not runs({}, no_network)


def test_a_plan_accounts_for_the_daemonsets_nodes_only():
    """A node the DaemonSet does not run on is no agent node; one it should run on and has no pod on is named."""
    base = observe(node_count=3)
    ds = replace(base.daemonset, placement=Placement.of_template({"nodeSelector": {"cni": "yes"}}))
    nodes = {"n0": NodeInfo("n0", labels={"cni": "yes"}), "n1": NodeInfo("n1", labels={"cni": "yes"}),
             "n2": NodeInfo("n2"),  # has a pod (placed before the selector changed): still an agent node
             "n3": NodeInfo("n3", labels={"cni": "yes"}),  # should run one, has none
             "n4": NodeInfo("n4")}  # not the DaemonSet's
    d = decide(spec(), UpgradePlanStatus(), replace(base, daemonset=ds, nodes=nodes), 1)
    assert d.status.plan.excluded == ["n3: no agent pod"]
    assert sorted(n for b in d.status.plan.batches for n in b) == ["n0", "n1", "n2"]
    counts = d.status.counts
    assert (counts.total, counts.planned, counts.excluded, counts.pending) == (4, 3, 1, 3)
    assert d.status.progress == "0/3 (+1 left out)"


def test_a_planned_node_that_leaves_the_cluster_ends_removed_and_the_plan_goes_on():
    plan_spec = spec(rollout={"maxUnavailable": 2, "canary": {"count": 1}})
    d = decide(plan_spec, UpgradePlanStatus(), observe(), 1)
    done = observe(owner=PLAN, pods=[pod(f"n{i}", NEW) for i in range(5)])
    gone = replace(done, nodes={n: i for n, i in done.nodes.items() if n != "n3"},
                   agents=observe(owner=PLAN, pods=[pod(f"n{i}", NEW) for i in range(5) if i != 3]).agents)
    for _ in range(20):
        d = decide(plan_spec, d.status, gone, 1)
        if d.status.phase.value == "Succeeded":
            break
    states = {r.name: r.state.value for r in d.status.nodes}
    assert d.status.phase.value == "Succeeded" and states["n3"] == "Removed"
    counts = d.status.counts
    assert (counts.planned, counts.upgraded, counts.removed, counts.pending) == (5, 4, 1, 0)
