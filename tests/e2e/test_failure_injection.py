"""Faults injected through kwok and by hand: each ends in the documented state, naming the node and reason,
with no other node touched after the failure."""
from __future__ import annotations

import time

from kubernetes import client

from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import AGENT_SELECTOR, create_agent, plan_events
from tests.e2e.recorder import PodRecorder
from localcluster.waiting import wait_for


def deletions_after(recorder: PodRecorder, moment: float) -> list[str]:
    return sorted({e.node for e in recorder.events if e.at > moment and (e.deleting or e.kind == "DELETED")})


def test_a_probe_pod_that_gets_no_ip_fails_the_canary_and_rolls_it_back(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES)
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        plans.create(rollbackOnFailure=True, rollout={"maxUnavailable": 4, "probe": {
            "enabled": True, "image": "example.com/pause:no-ip", "timeoutSeconds": 5}})
        status = plans.wait_phase("RolledBack", timeout=90)
    canary = status["plan"]["batches"][0][0]
    assert [n["name"] for n in status["nodes"]] == [canary]
    assert "probe pod did not get an IP" in status["nodes"][0]["message"]
    assert {n for n, uids in recorder.uids_per_node().items() if len(uids) > 1} == {canary}
    probes = client.CoreV1Api(admin_api).list_namespaced_pod(namespace, label_selector="cniupgrade.io/probe-for")
    assert not [p for p in probes.items if p.metadata.deletion_timestamp is None]


def test_the_daemonset_edited_by_someone_else_mid_rollout_stops_it(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="1s")
    apps = client.AppsV1Api(admin_api)
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        plans.create(rollout={"maxUnavailable": 2})
        wait_for(lambda: plans.status().get("counts", {}).get("upgraded", 0) >= 2, 60, "two nodes upgraded")
        apps.patch_namespaced_daemon_set("cni-agent", namespace, {"spec": {"template": {"spec": {
            "containers": [{"name": "agent", "image": "example.com/cni/agent:hotfix"}]}}}})
        edited = time.monotonic()
        plans.wait_phase("Failed", timeout=30)
        time.sleep(3)
        stopped = plans.status()
    ready = plans.condition("Ready")
    assert ready["reason"] == "DaemonSetChanged" and "hotfix" in ready["message"]
    in_flight = {n["name"] for n in stopped["nodes"] if n["state"] == "Upgrading"}
    assert set(deletions_after(recorder, edited + 1)) <= in_flight  # nothing new started after the edit
    assert apps.read_namespaced_daemon_set("cni-agent", namespace).spec.update_strategy.type == "OnDelete"


def test_a_downgrade_is_refused_unless_asked_for(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES)
    plans.create(target="v0.9.0")
    plans.wait_phase("Preflight", timeout=60)
    assert "generic.downgrade" in plans.condition("Ready")["message"]
    plans.patch_spec(allowDowngrade=True)
    plans.wait_phase("Succeeded", timeout=120)


def test_a_finished_plan_given_a_new_target_is_checked_before_anything_changes(admin_api, namespace, operator, plans):
    """Its first pass after the change used to skip the checks: this downgrade rolled out to Succeeded."""
    create_agent(admin_api, namespace, E2E_NODES)
    plans.create(prePull={"enabled": False}, rollout={"maxUnavailable": 8})
    plans.wait_phase("Succeeded", timeout=120)
    plans.patch_spec(targetVersion="v0.9.0")  # a downgrade: refused by generic.downgrade
    plans.wait_phase("Preflight", timeout=60)
    time.sleep(2)
    ds = client.AppsV1Api(admin_api).read_namespaced_daemon_set("cni-agent", namespace)
    assert ds.spec.template.spec.containers[0].image == "example.com/cni/agent:v2.0.0"
    assert ds.spec.update_strategy.type == "RollingUpdate" and "cniupgrade.io/owner" not in (
        ds.metadata.annotations or {})
    assert "generic.downgrade" in plans.condition("Ready")["message"]


def set_ready(core: client.CoreV1Api, node: str, ready: bool) -> None:
    """kwok re-asserts Ready on the nodes it manages, so a NotReady node is first taken out of its hands."""
    if ready:
        core.patch_node(node, {"metadata": {"annotations": {"kwok.x-k8s.io/node": "fake"}}})  # kwok heals it
        return
    core.patch_node(node, {"metadata": {"annotations": {"kwok.x-k8s.io/node": "unmanaged-by-test"}}})
    status = core.read_node_status(node).status
    conditions = [client.ApiClient().sanitize_for_serialization(c) for c in status.conditions]
    for condition in conditions:
        if condition["type"] == "Ready":
            condition.update(status="False", reason="InjectedFault", message="fault injected by a test")
    core.patch_node_status(node, {"status": {"conditions": conditions}})


def test_a_node_going_not_ready_fails_its_batch_without_touching_the_rest(admin_api, namespace, operator, plans):
    core = client.CoreV1Api(admin_api)
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="1s")
    victim = "node-0005"  # batch 4 of [0], [1, 2], [3, 4], [5, 6], ...
    try:
        with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
            plans.create(rollout={"maxUnavailable": 2})
            wait_for(lambda: plans.status().get("startedAt"), 30, "the rollout to start")
            set_ready(core, victim, False)
            status = plans.wait_phase("Failed", timeout=60)
            time.sleep(2)
        failed = [n for n in status["nodes"] if n["state"] == "Failed"]
        assert [n["name"] for n in failed] == [victim] and "NotReady" in failed[0]["message"]
        assert victim in plans.condition("Ready")["message"]
        touched = {n for n, uids in recorder.uids_per_node().items() if len(uids) > 1}
        assert touched == {"node-0000", "node-0001", "node-0002", "node-0003", "node-0004"}  # not 0005, 0006...
    finally:
        set_ready(core, victim, True)
        wait_for(lambda: any(c.type == "Ready" and c.status == "True"
                             for c in core.read_node_status(victim).status.conditions), 30, f"{victim} Ready again")


def test_a_failed_plan_is_retried_by_annotation_once_the_node_is_back(admin_api, namespace, operator, plans,
                                                                       kubectl):
    """No spec edit (nothing to change in git): `kubectl annotate` resumes the held DaemonSet where it stopped."""
    core = client.CoreV1Api(admin_api)
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="1s")
    victim = "node-0005"
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        try:
            plans.create(rollout={"maxUnavailable": 2})
            wait_for(lambda: plans.status().get("startedAt"), 30, "the rollout to start")
            set_ready(core, victim, False)
            failed = plans.wait_phase("Failed", timeout=60)
        finally:
            set_ready(core, victim, True)
        wait_for(lambda: any(c.type == "Ready" and c.status == "True"
                             for c in core.read_node_status(victim).status.conditions), 30, f"{victim} Ready again")
        upgraded_before = failed["counts"]["upgraded"]
        kubectl("annotate", "upgradeplan", "upgrade", "-n", namespace, "cniupgrade.io/retry=first", "--overwrite")
        status = plans.wait_phase("Succeeded", timeout=120)
        time.sleep(1)
    assert upgraded_before >= 1 and status["lastHandledRetry"] == "first"
    assert set(failed["upgradedNodes"]) <= set(status["upgradedNodes"])  # their results and times kept
    assert status["counts"]["upgraded"] == E2E_NODES
    # every node replaced exactly once: none of those upgraded before the failure was touched again
    assert all(len(uids) == 2 for uids in recorder.uids_per_node().values()), recorder.uids_per_node()
    assert len(recorder.uids_per_node()) == E2E_NODES
    assert recorder.max_unavailable() <= 2, recorder.peak_story()
    assert client.AppsV1Api(admin_api).read_namespaced_daemon_set("cni-agent", namespace) \
        .spec.update_strategy.type == "RollingUpdate"
    assert plan_events(admin_api, namespace, "RetryRequested")


def test_a_plan_for_a_daemonset_that_does_not_exist_ends_in_a_clear_terminal_condition(namespace, operator, plans):
    plans.create(daemonSet={"name": "no-such-agent"})
    plans.wait_phase("Failed", timeout=60)
    ready = plans.condition("Ready")
    assert ready["reason"] == "DaemonSetNotFound" and f"{namespace}/no-such-agent" in ready["message"]
    assert plans.condition("Stalled")["status"] == "True"
