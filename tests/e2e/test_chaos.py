"""Chaos during a rollout: the operator SIGKILLed at 10+ random moments, kube-apiserver restarted, etcd frozen.
Every run must end Succeeded with every node replaced exactly once and no batch above maxUnavailable."""
from __future__ import annotations

import os
import random
import signal
import time

from kubernetes import client

from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import AGENT_SELECTOR, ORIGINAL_STRATEGY, assert_accounted, create_agent, plan_events
from tests.e2e.recorder import PodRecorder

KILLS = 10


def phase(plans) -> str | None:
    try:
        return plans.status().get("phase")
    except Exception:  # noqa: BLE001 - the API server may be down on purpose
        return None


def test_rollout_survives_kills_an_apiserver_restart_and_a_frozen_etcd(cluster, admin_api, namespace, operator,
                                                                        plans):
    assert E2E_NODES >= 30
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="1s")
    rng = random.Random(20261123)
    kills, faults = 0, []
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        plans.create(rollout={"maxUnavailable": 2})
        deadline = time.monotonic() + 400
        while phase(plans) != "Succeeded" and time.monotonic() < deadline:
            time.sleep(rng.uniform(1.0, 2.5))
            if phase(plans) == "Succeeded":
                break
            if kills == 3 and "apiserver" not in faults:
                cluster.restart("kube-apiserver")
                faults.append("apiserver")
            elif kills == 6 and "etcd" not in faults:
                etcd = cluster.state.pids["etcd"]
                os.kill(etcd, signal.SIGSTOP)
                time.sleep(3)
                os.kill(etcd, signal.SIGCONT)
                faults.append("etcd")
            else:
                operator.kill()
                kills += 1
                time.sleep(rng.uniform(0.1, 1.0))
                operator.start()
        operator.start()
        plans.wait_phase("Succeeded", timeout=180)
    assert kills >= KILLS, f"the rollout ended after only {kills} kills"
    assert faults == ["apiserver", "etcd"]
    uids = recorder.uids_per_node()
    assert len(uids) == E2E_NODES and all(len(seen) == 2 for seen in uids.values()), {
        n: len(u) for n, u in uids.items() if len(u) != 2}
    assert recorder.max_unavailable() <= 2, recorder.peak_story()
    ds = client.AppsV1Api(admin_api).read_namespaced_daemon_set("cni-agent", namespace)
    assert client.ApiClient().sanitize_for_serialization(ds.spec.update_strategy) == ORIGINAL_STRATEGY
    status = plans.status()
    all_nodes = {f"node-{i:04d}" for i in range(E2E_NODES)}
    assert set(assert_accounted(status, all_nodes).values()) == {"Upgraded"}
    reasons = [e.reason for e in plan_events(admin_api, namespace, "UpgradeSucceeded")]
    assert "NodeFailed" not in reasons and reasons.count("UpgradeSucceeded") == 1
