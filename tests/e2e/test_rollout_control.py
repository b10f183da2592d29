"""Pause/resume, approval, the maintenance window, two plans on one DaemonSet, deletion mid-rollout, rollback on
demand."""
from __future__ import annotations

import datetime as dt
import math
import time

from kubernetes import client

from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import AGENT_SELECTOR, ORIGINAL_STRATEGY, assert_accounted, create_agent, plan_events
from tests.e2e.recorder import PodRecorder
from localcluster.waiting import wait_for


def agent_images(admin_api, namespace) -> str:
    ds = client.AppsV1Api(admin_api).read_namespaced_daemon_set("cni-agent", namespace)
    return ds.spec.template.spec.containers[0].image


def strategy(admin_api, namespace) -> dict:
    ds = client.AppsV1Api(admin_api).read_namespaced_daemon_set("cni-agent", namespace)
    return client.ApiClient().sanitize_for_serialization(ds.spec.update_strategy)


def upgraded(plans) -> int:
    return plans.status().get("counts", {}).get("upgraded", 0)


def test_pause_before_start_touches_nothing_then_pause_mid_rollout_holds_and_resume_completes(
        admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="700ms")
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        plans.create(paused=True, rollout={"maxUnavailable": 2})
        plans.wait_phase("Paused")
        assert "spec.paused" in plans.condition("Ready")["message"]
        time.sleep(2)
        assert agent_images(admin_api, namespace).endswith(":v1.0.0")  # the DaemonSet was not touched
        assert strategy(admin_api, namespace) == ORIGINAL_STRATEGY
        assert not recorder.deletion_order()

        plans.patch_spec(paused=False)
        wait_for(lambda: upgraded(plans) >= 3, 60, "a few nodes upgraded")
        plans.patch_spec(paused=True)
        plans.wait_phase("Paused", timeout=30)
        held = upgraded(plans)
        time.sleep(3)  # paused: the in-flight batch finished, nothing new starts
        assert upgraded(plans) == held and plans.status()["phase"] == "Paused"
        deleted_while_paused = len(recorder.deletion_order())
        assert deleted_while_paused == held

        plans.patch_spec(paused=False)
        plans.wait_phase("Succeeded", timeout=120)
    uids = recorder.uids_per_node()
    assert all(len(seen) == 2 for seen in uids.values()) and len(uids) == E2E_NODES
    assert recorder.max_unavailable() <= 2, recorder.peak_story()


def test_approval_shows_the_plan_first_and_changes_nothing_until_approved(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES)
    plans.create(requireApproval=True, rollout={"maxUnavailable": "25%"})
    status = plans.wait_phase("AwaitingApproval")
    assert status["plan"]["maxUnavailable"] == math.ceil(E2E_NODES * 0.25)
    assert status["plan"]["batches"][0] == ["node-0000"]
    assert sum(len(b) for b in status["plan"]["batches"]) == E2E_NODES
    assert plans.condition("PreflightPassed")["status"] == "True"
    time.sleep(2)
    assert agent_images(admin_api, namespace).endswith(":v1.0.0")
    plans.patch_spec(approved=True)
    done = plans.wait_phase("Succeeded", timeout=120)
    assert done["plan"] == status["plan"]  # what was approved is what ran
    # A new target with approved: true left in place (as in git) waits for a fresh approval.
    plans.patch_spec(targetVersion="v3.0.0")
    wait_for(lambda: plans.condition("Ready")["reason"] == "ApprovalOutdated", 60, "the outdated approval refused")
    time.sleep(2)
    assert agent_images(admin_api, namespace).endswith(":v2.0.0")
    plans.patch_spec(approved=False)
    wait_for(lambda: plans.condition("Ready")["reason"] == "AwaitingApproval", 30, "waiting for a new approval")
    plans.patch_spec(approved=True)
    plans.wait_phase("Succeeded", timeout=120)
    assert agent_images(admin_api, namespace).endswith(":v3.0.0")


def test_closed_window_holds_and_an_open_one_lets_it_run(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES)
    now = dt.datetime.now(dt.timezone.utc)
    later = now + dt.timedelta(hours=3)
    closed = {"days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], "start": later.strftime("%H:%M"),
              "end": (later + dt.timedelta(hours=1)).strftime("%H:%M"), "timeZone": "UTC"}
    plans.create(window=closed)
    plans.wait_phase("Waiting")
    ready = plans.condition("Ready")
    assert ready["reason"] == "OutsideWindow" and later.strftime("%H:%M") in ready["message"]
    assert agent_images(admin_api, namespace).endswith(":v1.0.0")
    open_now = {**closed, "start": (now - dt.timedelta(hours=1)).strftime("%H:%M"),
                "end": (now + dt.timedelta(hours=1)).strftime("%H:%M")}
    plans.patch_spec(window=open_now)
    plans.wait_phase("Succeeded", timeout=120)


def test_second_plan_on_the_same_daemonset_waits_and_never_interferes(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="500ms")
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        plans.create("first", rollout={"maxUnavailable": 4})
        wait_for(lambda: plans.status("first").get("startedAt"), 30, "the first plan to start")
        plans.create("second", target="v3.0.0", rollout={"maxUnavailable": 4})
        plans.wait_phase("Waiting", name="second")
        ready = plans.condition("Ready", "second")
        assert ready["reason"] == "DaemonSetBusy" and f"{namespace}/first" in ready["message"]
        first = plans.wait_phase("Succeeded", name="first", timeout=120)
        second = plans.wait_phase("Succeeded", name="second", timeout=120)
    assert second["startedAt"] >= first["completedAt"]  # it started only once the first released the DaemonSet
    assert agent_images(admin_api, namespace).endswith(":v3.0.0")
    uids = recorder.uids_per_node()
    assert all(len(seen) == 3 for seen in uids.values()), uids  # v1 -> v2 -> v3, once each
    assert recorder.max_unavailable() <= 4, recorder.peak_story()


def test_deleting_a_plan_mid_rollout_restores_the_update_strategy(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="1s")
    plans.create(rollout={"maxUnavailable": 1})
    wait_for(lambda: upgraded(plans) >= 2, 60, "two nodes upgraded")
    assert strategy(admin_api, namespace)["type"] == "OnDelete"
    plans.delete()
    wait_for(lambda: strategy(admin_api, namespace) == ORIGINAL_STRATEGY, 30, "the original strategy back")
    ds = client.AppsV1Api(admin_api).read_namespaced_daemon_set("cni-agent", namespace)
    assert not any(k.startswith("cniupgrade.io/") for k in (ds.metadata.annotations or {}))
    custom = client.CustomObjectsApi(admin_api)
    wait_for(lambda: not custom.list_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace,
                                                              "upgradeplans")["items"], 30, "the plan gone")


def test_a_rollback_asked_for_after_succeeded_puts_every_node_back_under_the_gate(admin_api, namespace, operator,
                                                                                  plans, kubectl):
    """kubectl annotate on a Succeeded plan: the DaemonSet is held again, each node's agent replaced once more (the
    first alone, then at most maxUnavailable at a time), back on the previous images; who asked is in status."""
    create_agent(admin_api, namespace, E2E_NODES, ready_delay="300ms")
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        plans.create(rollout={"maxUnavailable": 3})
        plans.wait_phase("Succeeded", timeout=180)
        assert agent_images(admin_api, namespace).endswith(":v2.0.0")
        kubectl("-n", namespace, "annotate", "upgradeplan", "upgrade", "cniupgrade.io/rollback=alice: latency up")
        status = plans.wait_phase("RolledBack", timeout=180)
        time.sleep(2)  # handled once: the annotation left in place starts nothing more (counted below)
        assert plans.status()["phase"] == "RolledBack"
    assert agent_images(admin_api, namespace).endswith(":v1.0.0")
    assert strategy(admin_api, namespace) == ORIGINAL_STRATEGY  # given back once every pod is on the old images
    uids = recorder.uids_per_node()
    assert len(uids) == E2E_NODES and all(len(seen) == 3 for seen in uids.values()), {
        n: len(u) for n, u in uids.items() if len(u) != 3}  # upgraded once, rolled back once: nothing ungated
    assert recorder.max_unavailable() <= 3, recorder.peak_story()
    record = status["rollback"]
    assert record["requestedBy"] == "kubectl-annotate" and record["reason"] == "alice: latency up"
    assert record["phase"] == "Succeeded" and record["requestedAt"]
    states = assert_accounted(status, {f"node-{i:04d}" for i in range(E2E_NODES)})
    assert set(states.values()) == {"RolledBack"} and status["counts"]["rolledBack"] == E2E_NODES
    asked = [e for e in plan_events(admin_api, namespace, "RollbackRequested") if e.reason == "RollbackRequested"]
    assert len(asked) == 1 and "kubectl-annotate" in asked[0].message and asked[0].type == "Warning"
