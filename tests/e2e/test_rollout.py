"""The node-by-node rollout on the real control plane, with the operator under its own ServiceAccount."""
from __future__ import annotations

from kubernetes import client

from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import AGENT_SELECTOR, assert_accounted, create_agent, plan_events
from tests.e2e.recorder import PodRecorder
from localcluster import nodes as sim_nodes
from localcluster import stages
from localcluster.waiting import wait_for

NODES = E2E_NODES
ALL = {f"node-{i:04d}" for i in range(NODES)}
ZONE = "topology.kubernetes.io/zone"


def daemonset(admin_api, namespace):
    return client.AppsV1Api(admin_api).read_namespaced_daemon_set("cni-agent", namespace)


def test_upgrade_canary_then_batches_within_max_unavailable(admin_api, namespace, operator, plans, kubectl):
    assert NODES >= 20
    create_agent(admin_api, namespace, NODES)
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        plans.create(rollout={"maxUnavailable": 4, "canary": {"count": 1}})
        kubectl("wait", "--for=condition=Ready", "upgradeplan/upgrade", "-n", namespace, "--timeout=120s")

    status = plans.status()
    assert status["phase"] == "Succeeded" and status["progress"] == f"{NODES}/{NODES}"
    states = assert_accounted(status, ALL)
    assert set(states.values()) == {"Upgraded"} and status["counts"]["upgraded"] == NODES
    batches = status["plan"]["batches"]
    assert batches[0] == ["node-0000"] and all(len(b) <= 4 for b in batches)
    # upgraded nodes are stored one string each ('<name> <startedAt> <finishedAt>'), in plan order
    assert status["nodes"] == [] and [e.split(" ")[0] for e in status["upgradedNodes"]] == sum(batches, [])
    assert all(len(e.split(" ")) == 3 and e.endswith("Z") for e in status["upgradedNodes"])

    # every node's pod replaced exactly once, never more than maxUnavailable nodes down at once
    uids = recorder.uids_per_node()
    assert len(uids) == NODES and all(len(seen) == 2 for seen in uids.values()), uids
    assert 1 <= recorder.max_unavailable() <= 4, recorder.peak_story()
    # the canary went first, alone, and was Ready on the new revision before any other node was touched
    order = recorder.deletion_order()
    assert order[0] == "node-0000"
    ds = daemonset(admin_api, namespace)
    new_revision = next(e.revision for e in recorder.events if e.node == "node-0000" and e.ready
                        and e.at > recorder.first_deletion_at("node-0000"))
    assert recorder.first_ready_at("node-0000", new_revision) < recorder.first_deletion_at(order[1])
    # nodes start in plan order; the deletions one pass makes run at once, so within maxUnavailable of it
    planned = [n for b in batches for n in b]
    assert sorted(order) == sorted(planned)
    assert all(abs(order.index(n) - planned.index(n)) < 4 for n in planned), (order, planned)

    # the DaemonSet: new images, the original update strategy back, our annotations gone
    assert ds.spec.template.spec.containers[0].image == "example.com/cni/agent:v2.0.0"
    assert ds.spec.template.spec.init_containers[0].image == "example.com/cni/install:v2.0.0"
    assert ds.spec.update_strategy.to_dict() == {"type": "RollingUpdate", "rolling_update": {
        "max_unavailable": 3, "max_surge": 0}}
    assert not any(k.startswith("cniupgrade.io/") for k in (ds.metadata.annotations or {}))

    # kstatus conditions and printer columns
    plan = plans.get()
    ready = plans.condition("Ready")
    assert ready["status"] == "True" and ready["observedGeneration"] == plan["metadata"]["generation"]
    assert plans.condition("Reconciling")["status"] == "False" and plans.condition("Stalled")["status"] == "False"
    assert status["observedGeneration"] == plan["metadata"]["generation"]
    row = kubectl("get", "upgradeplan", "upgrade", "-n", namespace, "--no-headers").stdout.split()
    assert row[:5] == ["upgrade", "generic", "v1.0.0", "v2.0.0", "Succeeded"] and row[5] == f"{NODES}/{NODES}"
    wide = kubectl("get", "upgradeplan", "upgrade", "-n", namespace, "-o", "wide").stdout
    assert f"upgraded {NODES} node(s) to v2.0.0" in wide
    reasons = [e.reason for e in plan_events(admin_api, namespace, "UpgradeSucceeded")]
    assert {"PlanComputed", "DaemonSetPrepared", "BatchStarted", "BatchSucceeded", "UpgradeSucceeded"} <= set(reasons)


def test_probe_pod_gates_every_node_and_is_removed(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, NODES)
    core = client.CoreV1Api(admin_api)
    seen_probes: set[str] = set()

    def probe_pods():
        pods = core.list_namespaced_pod(namespace, label_selector="cniupgrade.io/probe-for").items
        seen_probes.update(p.spec.node_name for p in pods)
        return pods

    plans.create(rollout={"maxUnavailable": 6, "probe": {"enabled": True, "image": "example.com/pause:3.10",
                                                        "timeoutSeconds": 30}})
    wait_for(lambda: probe_pods() and False or plans.status().get("phase") == "Succeeded", 120,
             "the plan to succeed with probes")
    assert seen_probes, "no probe pod was ever seen"
    assert seen_probes <= {f"node-{i:04d}" for i in range(NODES)}
    remaining = lambda: [(p.metadata.name, p.status.phase, p.metadata.deletion_timestamp) for p in probe_pods()]
    wait_for(lambda: not remaining(), 30, f"probe pods removed (left: {remaining()})")
    assert plans.status()["counts"]["upgraded"] == NODES


def test_batches_mode_is_lock_step_and_keeps_the_batch_delay(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, NODES)
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        plans.create(rollout={"maxUnavailable": 8, "canary": {"count": 0}, "mode": "Batches",
                              "batchDelaySeconds": 2})
        plans.wait_phase("Succeeded", timeout=180)
    batches = plans.status()["plan"]["batches"]
    assert len(batches) == -(-NODES // 8)

    def ready_after_deletion(node: str) -> float:
        deleted = recorder.first_deletion_at(node)
        return next(e.at for e in recorder.events if e.node == node and e.ready and e.at > deleted)

    for previous, batch in zip(batches, batches[1:]):
        last_ready = max(ready_after_deletion(n) for n in previous)
        first_deleted = min(recorder.first_deletion_at(n) for n in batch)
        # every node of the previous batch was back before the next started, and the delay was kept (the
        # status clock has whole seconds, so at least 1 s of the 2 s is certain)
        assert first_deleted - last_ready >= 1.0, (previous, batch, first_deleted - last_ready)


def test_a_cordoned_node_is_upgraded_under_the_same_gates_unless_the_plan_opts_out(admin_api, namespace, operator,
                                                                                   plans):
    """A cordoned node still runs pods and needs the new CNI: it is planned and upgraded like any other. Before,
    it was left out, and the native controller replaced its agent ungated once the strategy was restored."""
    core = client.CoreV1Api(admin_api)
    create_agent(admin_api, namespace, NODES)
    cordoned = "node-0003"
    core.patch_node(cordoned, {"spec": {"unschedulable": True}})
    try:
        with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
            plans.create(rollout={"maxUnavailable": 8})
            status = plans.wait_phase("Succeeded", "Failed", timeout=120)
        assert status["phase"] == "Succeeded", status.get("conditions")
        assert cordoned in sum(status["plan"]["batches"], []) and not status["plan"].get("excluded")
        assert assert_accounted(status, ALL)[cordoned] == "Upgraded" and status["progress"] == f"{NODES}/{NODES}"
        assert len(recorder.uids_per_node()[cordoned]) == 2  # replaced once, by the plan
        log = operator.log_path.read_text(errors="replace")
        assert f"plan {namespace}/upgrade: DeletePod" in log

        plans.delete()
        plans.create(name="skipping", target="v3.0.0", rollout={
            "maxUnavailable": 8, "skipCordoned": True, "nodeSelector": {ZONE: "zone-a"}})
        status = plans.wait_phase("Succeeded", "Failed", name="skipping", timeout=120)
        states = assert_accounted(status, ALL)
        assert states[cordoned] == "unschedulable (cordoned; spec.rollout.skipCordoned)"
        zone_a = {n.metadata.name for n in core.list_node(label_selector=f"{ZONE}=zone-a").items} & ALL
        assert {n for n, s in states.items() if s == "not selected by spec.rollout.nodeSelector"} == ALL - zone_a
        assert {n for n, s in states.items() if s == "Upgraded"} == zone_a - {cordoned}
        assert status["progress"] == f"{len(zone_a) - 1}/{len(zone_a) - 1} (+{NODES - len(zone_a) + 1} left out)"
        degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
        assert degraded["reason"] == "NodesLeftOnPreviousVersion" and cordoned in degraded["message"]
        assert daemonset(admin_api, namespace).spec.update_strategy.type == "OnDelete"  # no ungated replacement
    finally:
        core.patch_node(cordoned, {"spec": {"unschedulable": False}})


def test_a_node_not_ready_when_planned_is_waited_for_and_upgraded_gated_once_it_is_back(admin_api, namespace,
                                                                                        operator, plans):
    """A node NotReady at planning time (kwok stops its heartbeat) with its old agent there: the plan upgrades the
    others, waits for it, and once it is Ready again upgrades it in a batch of its own, under the gates."""
    core = client.CoreV1Api(admin_api)
    create_agent(admin_api, namespace, NODES)
    name = "node-0005"
    core.patch_node(name, {"metadata": {"labels": {stages.NOT_READY_LABEL: "true"}}})
    try:
        wait_for(lambda: not node_ready(core, name), 60, f"{name} NotReady")
        with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
            plans.create(rollout={"maxUnavailable": 8, "notReadyNodes": {"waitSeconds": 300}})
            wait_for(lambda: any(c["type"] == "Ready" and c["reason"] == "WaitingForNotReadyNodes"
                                 for c in plans.status().get("conditions", [])), 120,
                     "the plan waiting for the NotReady node")
            status = plans.status()
            assert assert_accounted(status, ALL)[name] == "not Ready" and status["counts"]["upgraded"] == NODES - 1
            assert status["counts"]["notReady"] == 1 and status["progress"] == f"{NODES - 1}/{NODES - 1} (+1 left out)"
            assert name in plans.condition("Ready")["message"] and len(recorder.uids_per_node()[name]) == 1
            core.patch_node(name, {"metadata": {"labels": {stages.NOT_READY_LABEL: None}}})  # kwok: Ready again
            status = plans.wait_phase("Succeeded", "Failed", timeout=120)
        assert status["phase"] == "Succeeded", status.get("conditions")
        assert status["plan"]["batches"][-1] == [name] and not status["plan"].get("excluded")
        assert set(assert_accounted(status, ALL).values()) == {"Upgraded"}
        assert len(recorder.uids_per_node()[name]) == 2  # its old agent, then the one the plan's batch made
        assert next(c for c in status["conditions"] if c["type"] == "Degraded")["status"] == "False"
        plan_events(admin_api, namespace, "NodesReadyAgain")
    finally:
        core.patch_node(name, {"metadata": {"labels": {stages.NOT_READY_LABEL: None}}})
        wait_for(lambda: node_ready(core, name), 60, f"{name} Ready again")


def node_ready(core: client.CoreV1Api, name: str) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in core.read_node(name).status.conditions or [])


def test_nodes_that_join_after_the_plan_was_made_join_it_at_its_end(admin_api, namespace, operator, plans):
    """One node joins while the plan awaits approval (it gets the previous agent; the approved plan is computed
    afresh, with it), one while the rollout runs (it gets the new agent, and joins the plan after its last batch,
    gated and counted without a restart). None is left on the previous agent, none uncounted."""
    core = client.CoreV1Api(admin_api)
    create_agent(admin_api, namespace, NODES, ready_delay="1s")
    early, late = sim_nodes.node_name(NODES + 50), sim_nodes.node_name(NODES + 51)
    try:
        with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
            plans.create(requireApproval=True, rollout={"maxUnavailable": 4})
            plans.wait_phase("AwaitingApproval", timeout=60)
            core.create_node(sim_nodes.manifest(NODES + 50))
            wait_for(lambda: any(e.node == early and e.ready for e in recorder.events), 60,
                     f"an agent Ready on {early}")
            plans.patch_spec(approved=True)
            wait_for(lambda: plans.status().get("startedAt"), 60, "the rollout to start")
            core.create_node(sim_nodes.manifest(NODES + 51))
            status = plans.wait_phase("Succeeded", "Failed", timeout=180)
        assert status["phase"] == "Succeeded", status.get("conditions")
        states = assert_accounted(status, ALL | {early, late})
        assert states[early] == states[late] == "Upgraded"
        uids = recorder.uids_per_node()
        assert len(uids[early]) == 2 and len(uids[late]) == 1  # the early one's agent replaced, the late one's kept
        assert next(c for c in status["conditions"] if c["type"] == "Degraded")["status"] == "False"
        assert daemonset(admin_api, namespace).spec.update_strategy.type == "RollingUpdate"  # released
        joined = [e for e in plan_events(admin_api, namespace, "NodesJoined") if e.reason == "NodesJoined"]
        assert late in " ".join(e.message for e in joined) and status["plan"]["batches"][-1] == [late]
    finally:
        for name in (early, late):
            try:
                core.delete_node(name)
            except client.ApiException as exc:
                if exc.status != 404:
                    raise
        wait_for(lambda: len(core.list_node().items) == NODES, 60, "the added nodes gone")
