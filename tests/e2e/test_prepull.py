"""Image pre-pull: a node that cannot pull the new image blocks the plan before any agent pod is touched."""
from __future__ import annotations

import time

from kubernetes import client

from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import AGENT_SELECTOR, ORIGINAL_STRATEGY, create_agent, plan_events
from tests.e2e.recorder import PodRecorder
from localcluster.waiting import wait_for

BAD_NODE = "node-0003"


def prepull_daemonsets(admin_api, namespace):
    return client.AppsV1Api(admin_api).list_namespaced_daemon_set(
        namespace, label_selector="cniupgrade.io/prepull-for").items


def test_a_node_that_cannot_pull_blocks_before_any_agent_pod_is_touched(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES)
    apps = client.AppsV1Api(admin_api)
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        plans.create(target=f"v2-unpullable-on-{BAD_NODE}", prePull={"timeoutSeconds": 60})
        status = wait_for(lambda: (s := plans.status()).get("phase") == "PrePulling" and any(
            c["type"] == "Stalled" and c["status"] == "True" for c in s.get("conditions", [])) and s, 60,
            "the pre-pull to block")
        ready = plans.condition("Ready")["message"]
        assert BAD_NODE in ready and "ErrImagePull" in ready and "no agent pod was touched" in ready
        assert f"{BAD_NODE}: ErrImagePull" in plans.condition("ImagesPulled")["message"]
        assert ready.count("node-") == 1  # only the failing node is named
        time.sleep(2)
        ds = apps.read_namespaced_daemon_set("cni-agent", namespace)
        assert ds.spec.template.spec.containers[0].image == "example.com/cni/agent:v1.0.0"
        assert client.ApiClient().sanitize_for_serialization(ds.spec.update_strategy) == ORIGINAL_STRATEGY
        assert not recorder.deletion_order()
        assert not status.get("startedAt")
        events = plan_events(admin_api, namespace, "PrePullFailed")
        assert any(e.reason == "PrePullFailed" and BAD_NODE in e.message and e.type == "Warning" for e in events)

        plans.patch_spec(targetVersion="v2.0.0")  # a pullable target: the pre-pull starts over, then the rollout
        plans.wait_phase("Succeeded", timeout=120)
    assert not prepull_daemonsets(admin_api, namespace)
    assert all(len(uids) == 2 for uids in recorder.uids_per_node().values())
    assert plans.condition("ImagesPulled")["status"] == "True"


def test_deleting_a_plan_during_the_pre_pull_removes_the_pre_pull_daemonset(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES)
    plans.create(target=f"v2-unpullable-on-{BAD_NODE}")
    wait_for(lambda: prepull_daemonsets(admin_api, namespace), 60, "the pre-pull DaemonSet")
    plans.wait_phase("PrePulling", timeout=60)
    plans.delete()
    wait_for(lambda: not prepull_daemonsets(admin_api, namespace), 30, "the pre-pull DaemonSet removed")
    ds = client.AppsV1Api(admin_api).read_namespaced_daemon_set("cni-agent", namespace)
    assert client.ApiClient().sanitize_for_serialization(ds.spec.update_strategy) == ORIGINAL_STRATEGY
