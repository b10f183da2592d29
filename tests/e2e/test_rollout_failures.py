"""A failing canary, with and without rollback, and an operator killed mid-rollout."""
from __future__ import annotations

import random
import time

from kubernetes import client

from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import AGENT_SELECTOR, ORIGINAL_STRATEGY, create_agent, plan_events
from tests.e2e.recorder import PodRecorder

BROKEN = "example.com/cni/agent:v2-never-ready"


def read_ds(admin_api, namespace):
    return client.AppsV1Api(admin_api).read_namespaced_daemon_set("cni-agent", namespace)


def test_failing_canary_rolls_back_only_the_canary(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES)
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        plans.create(target="v2-never-ready", rollbackOnFailure=True, prePull={"enabled": False},
                     daemonSet={"name": "cni-agent", "images": {"agent": BROKEN}},
                     rollout={"nodeTimeoutSeconds": 10, "maxUnavailable": 3})
        status = plans.wait_phase("RolledBack", timeout=90)
        time.sleep(1)
    canary = status["plan"]["batches"][0][0]
    assert [n["name"] for n in status["nodes"]] == [canary]
    assert status["nodes"][0]["state"] == "RolledBack" and "not Ready within 10s" in status["nodes"][0]["message"]
    # only the canary's pod was touched: replaced by the broken one, then by the previous version
    touched = {node for node, uids in recorder.uids_per_node().items() if len(uids) > 1}
    assert touched == {canary}
    assert len(recorder.uids_per_node()[canary]) == 3
    ds = read_ds(admin_api, namespace)
    assert ds.spec.template.spec.containers[0].image == "example.com/cni/agent:v1.0.0"
    assert client.ApiClient().sanitize_for_serialization(ds.spec.update_strategy) == ORIGINAL_STRATEGY
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Stalled"]["status"] == "True" and conditions["Degraded"]["status"] == "True"
    assert canary in conditions["Ready"]["message"]
    events = plan_events(admin_api, namespace, "NodeFailed")
    assert any(e.reason == "NodeFailed" and canary in e.message and e.type == "Warning" for e in events)


def test_failing_canary_without_rollback_stops_and_holds(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES)
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        plans.create(target="v2-never-ready", prePull={"enabled": False},
                     daemonSet={"name": "cni-agent", "images": {"agent": BROKEN}},
                     rollout={"nodeTimeoutSeconds": 10})
        status = plans.wait_phase("Failed", timeout=90)
        time.sleep(2)
    assert plans.condition("Ready")["reason"] == "NodeHealthGateFailed"
    assert recorder.deletion_order() == [status["plan"]["batches"][0][0]]
    assert read_ds(admin_api, namespace).spec.update_strategy.type == "OnDelete"  # no node takes the bad image


def test_operator_killed_mid_rollout_resumes_without_repeating_or_skipping(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="600ms")
    rng = random.Random(7)
    kills = 0
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        plans.create(rollout={"maxUnavailable": 2})
        while plans.status().get("phase") != "Succeeded" and kills < 4:
            time.sleep(rng.uniform(0.5, 2.0))
            if plans.status().get("phase") == "Succeeded":
                break
            operator.kill()
            kills += 1
            time.sleep(rng.uniform(0.2, 1.5))
            operator.start()
        plans.wait_phase("Succeeded", timeout=180)
    assert kills >= 2, "the rollout ended before the operator could be killed twice"
    uids = recorder.uids_per_node()
    assert len(uids) == E2E_NODES and all(len(seen) == 2 for seen in uids.values()), uids
    assert recorder.max_unavailable() <= 2, recorder.peak_story()
    assert client.ApiClient().sanitize_for_serialization(read_ds(admin_api, namespace).spec.update_strategy) \
        == ORIGINAL_STRATEGY
    assert plans.status()["counts"]["upgraded"] == E2E_NODES
