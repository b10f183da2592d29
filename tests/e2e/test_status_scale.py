"""A large plan's status through the real API server: at 65,000 nodes the status keeps counts, ranges and summaries
and the names go to UpgradePlanRosters the operator's own identity writes; reading them back gives the status that
was written. A real rollout whose names live in a roster survives a SIGKILL and leaves no roster behind."""
from __future__ import annotations

import json
import random

from kubernetes import client

from cniupgrade.api import models
from cniupgrade.api import roster as roster_api
from cniupgrade.api.status import ComputedPlan, Counts, NodeResult, NodeState, Phase, UpgradePlanStatus
from cniupgrade.engine import parse_status
from cniupgrade.kube.apply import Executor
from localcluster.objects import api_client
from cniupgrade.kube.rosters import RosterReader
from localcluster.processes import free_port
from localcluster.waiting import wait_for
from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import AGENT_SELECTOR, assert_accounted, create_agent
from tests.e2e.operator_process import OperatorProcess
from tests.e2e.recorder import PodRecorder

NODES = 65000
ETCD_LIMIT = 1.5 * 1024 * 1024


def cloud_names(count: int) -> list[str]:
    """Cloud-style names with a random part: they compress far less than kwok's node-00001."""
    rng = random.Random(count)
    return [f"gke-prod-pool-{i % 10}-{rng.getrandbits(32):08x}-{rng.getrandbits(20):05x}" for i in range(count)]


def huge_status() -> UpgradePlanStatus:
    names = cloud_names(NODES)
    excluded, planned = names[:650], names[650:]
    failed = {planned[17], planned[40000]}
    results = [NodeResult(name=n, state=NodeState.failed if n in failed else NodeState.upgraded,
                          message="probe failed" if n in failed else "",
                          started_at="2026-12-03T06:00:00Z" if n in failed else None,
                          finished_at="2026-12-03T06:00:09Z" if n in failed else None) for n in planned]
    return UpgradePlanStatus(
        phase=Phase.failed, nodes=results,
        plan=ComputedPlan(batches=[planned[:1], *(planned[i:i + 100] for i in range(1, len(planned), 100))],
                          canary_batches=1, max_unavailable=100,
                          excluded=[*(f"{n}: cordoned" for n in excluded[:600]),
                                    *(f"{n}: not Ready" for n in excluded[600:])]),
        counts=Counts(total=NODES, planned=len(planned), upgraded=len(planned) - 2, failed=2, excluded=600,
                      not_ready=50))


def rosters(admin_api, namespace: str) -> list[dict]:
    return client.CustomObjectsApi(admin_api).list_namespaced_custom_object(
        models.GROUP, models.VERSION, namespace, roster_api.PLURAL)["items"]


def test_a_65000_node_status_is_stored_small_and_read_back_whole(operator, operator_rbac, admin_api, namespace,
                                                                 plans):
    operator.stop()  # the status is ours to write here (the fixture starts the operator again after)
    plan = plans.create()
    status = huge_status()
    as_operator = Executor(api_client(operator_rbac), namespace, "upgrade", plan["metadata"]["uid"])
    as_operator.write_status(status)  # the operator's own write, with its ServiceAccount's rights

    stored = plans.get()
    size = len(json.dumps(stored, separators=(",", ":")))
    assert size < 64 * 1024, size  # the whole object, far below etcd's 1.5 MiB, as at 1000 nodes
    wire = stored["status"]
    assert wire["upgradedRanges"] == f"0-16,18-39999,40001-{NODES - 651}" and len(wire["nodes"]) == 2
    assert wire["plan"]["batches"] == [] and wire["plan"]["roster"]["batchSizes"] == "1,100x643,49"
    assert [(s["reason"], s["count"]) for s in wire["plan"]["excludedByReason"]] == [("cordoned", 600),
                                                                                     ("not Ready", 50)]
    shards = rosters(admin_api, namespace)
    assert len(shards) == wire["plan"]["roster"]["shards"] > 1
    for shard in shards:
        assert shard["metadata"]["ownerReferences"][0]["uid"] == plan["metadata"]["uid"]
        assert len(json.dumps(shard, separators=(",", ":"))) < ETCD_LIMIT

    whole = RosterReader(api_client(operator_rbac), namespace).whole_status(wire)
    assert parse_status({"metadata": stored["metadata"], "status": whole}) == status

    plans.delete()  # the API server's garbage collector removes the rosters with their plan
    wait_for(lambda: not rosters(admin_api, namespace), 60, "the plan's rosters garbage-collected")


def test_a_rollout_with_its_names_in_a_roster_resumes_after_sigkill_and_cleans_up(
        cluster, admin_api, namespace, operator, plans, operator_rbac, operator_policy, tmp_path):
    """The roster threshold lowered to 8 nodes: the same code path as a 2001-node plan, on the suite's nodes."""
    operator.stop()
    compact = OperatorProcess(operator_rbac, tmp_path / "compact-operator.log", free_port(),
                              env={**operator_policy, "CNIUPGRADE_COMPACT_ABOVE": "8"})
    try:
        compact.start()
        create_agent(admin_api, namespace, E2E_NODES, ready_delay="500ms")
        with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
            plans.create(rollout={"maxUnavailable": 2})
            wait_for(lambda: plans.status().get("counts", {}).get("upgraded", 0) >= 4, 90, "a few nodes upgraded")
            wire = plans.get()["status"]
            assert wire["plan"]["batches"] == [] and wire["plan"]["roster"]["shards"] == 1
            assert wire["upgradedNodes"] == [] and wire["upgradedRanges"]
            compact.kill()
            compact.start()  # reads its order back from the roster
            plans.wait_phase("Succeeded", timeout=180)
        uids = recorder.uids_per_node()
        assert len(uids) == E2E_NODES and all(len(seen) == 2 for seen in uids.values()), uids
        assert recorder.max_unavailable() <= 2, recorder.peak_story()
        status = plans.status()
        assert set(assert_accounted(status, {f"node-{i:04d}" for i in range(E2E_NODES)}).values()) == {"Upgraded"}
        assert len(rosters(admin_api, namespace)) == 1  # one roster: the plan never changed
        plans.delete()  # through the operator's finalizer, then the garbage collector
        wait_for(lambda: not rosters(admin_api, namespace) and not _plan_exists(plans), 60,
                 "the plan and its roster gone")
    finally:
        compact.kill()


def _plan_exists(plans) -> bool:
    try:
        plans.get()
        return True
    except client.ApiException as exc:
        if exc.status == 404:
            return False
        raise
