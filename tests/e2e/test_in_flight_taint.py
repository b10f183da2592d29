"""No pod lands on a node mid-swap, on the real scheduler: a node in flight carries cniupgrade.io/upgrading, and no
taint of ours remains after Succeeded, a failure, a rollback, the plan's deletion, or a SIGKILL and resume."""
from __future__ import annotations

import time
import urllib.request

from kubernetes import client

from cniupgrade.seams.objects import IN_FLIGHT_TAINT_KEY
from localcluster.waiting import wait_for
from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import create_agent

PAUSE = "registry.k8s.io/pause:3.10"


def our_taints(api: client.ApiClient) -> dict[str, str]:
    """Node -> the value of its in-flight taint, for the nodes that carry one."""
    return {n.metadata.name: t.value for n in client.CoreV1Api(api).list_node().items
            for t in n.spec.taints or [] if t.key == IN_FLIGHT_TAINT_KEY}


def pinned_pod(api: client.ApiClient, namespace: str, node: str) -> str:
    """A workload pod that can only go to `node` (as a pod with local storage or a node selector would)."""
    name = f"workload-{node}"
    client.CoreV1Api(api).create_namespaced_pod(namespace, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"nodeSelector": {"kubernetes.io/hostname": node}, "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "app", "image": PAUSE}]}})
    return name


def bound_node(api: client.ApiClient, namespace: str, pod: str) -> str | None:
    return client.CoreV1Api(api).read_namespaced_pod(pod, namespace).spec.node_name


def upgraded_at(plans, node: str) -> str | None:
    return next((entry.split(" ")[2] for entry in plans.status().get("upgradedNodes") or []
                 if entry.split(" ")[0] == node), None)


def test_a_pod_created_while_its_node_is_in_flight_waits_for_the_gate_and_no_taint_remains(
        admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="3s")
    plans.create(rollout={"maxUnavailable": 2})
    tainted = wait_for(lambda: our_taints(admin_api), 60, "a node in flight with our taint")
    node = sorted(tainted)[0]
    pod = pinned_pod(admin_api, namespace, node)
    seen_tainted_unbound = False
    while node in our_taints(admin_api):
        bound = bound_node(admin_api, namespace, pod)
        assert bound is None or node not in our_taints(admin_api), f"{pod} bound to {node} while in flight"
        seen_tainted_unbound = True
        time.sleep(0.2)
    assert seen_tainted_unbound
    wait_for(lambda: bound_node(admin_api, namespace, pod) == node, 60, f"{pod} bound once {node} passed")
    assert upgraded_at(plans, node) or plans.status().get("phase") == "Succeeded"
    plans.wait_phase("Succeeded", timeout=240)
    assert our_taints(admin_api) == {}
    assert operator_metric(operator, "cniupgrade_tainted_nodes", namespace) == 0


def operator_metric(operator, name: str, namespace: str) -> float:
    text = urllib.request.urlopen(operator.metrics_url, timeout=10).read().decode()
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith(name + "{") and f'namespace="{namespace}"' in line]
    assert values, f"{name} not served for {namespace}"
    return values[0]


def test_taints_are_taken_off_after_sigkill_and_resume(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="2s")
    plans.create(rollout={"maxUnavailable": 3})
    wait_for(lambda: plans.status().get("counts", {}).get("upgraded", 0) >= 2 and our_taints(admin_api), 90,
             "nodes upgraded and others in flight")
    operator.kill()
    left = our_taints(admin_api)
    assert left  # the killed operator left them: the next one must take them off
    operator.start()
    plans.wait_phase("Succeeded", timeout=240)
    assert our_taints(admin_api) == {}


def test_a_deleted_plan_takes_its_taints_off(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="5s")
    plans.create(rollout={"maxUnavailable": 4})
    wait_for(lambda: len(our_taints(admin_api)) >= 2, 60, "nodes in flight")
    plans.delete()
    wait_for(lambda: not our_taints(admin_api), 60, "the finalizer took the taints off")


def test_a_failed_plan_leaves_no_taint(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="1s")
    # the probe pod (which tolerates the taint) never gets an IP on the canary: it fails in flight
    plans.create(rollout={"probe": {"enabled": True, "image": "example.com/pause:no-ip", "timeoutSeconds": 5}})
    wait_for(lambda: our_taints(admin_api), 60, "the canary in flight")
    plans.wait_phase("Failed", timeout=120)
    assert our_taints(admin_api) == {}


def test_a_rolled_back_plan_leaves_no_taint(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="1s")
    plans.create(rollout={"maxUnavailable": 3})
    wait_for(lambda: plans.status().get("counts", {}).get("upgraded", 0) >= 4, 120, "a few nodes upgraded")
    plans.patch_spec(rollback=True)
    wait_for(lambda: plans.status().get("phase") == "RollingBack" and our_taints(admin_api), 60,
             "nodes tainted while they go back")
    plans.wait_phase("RolledBack", timeout=240)
    assert our_taints(admin_api) == {}
