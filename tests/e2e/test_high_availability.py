"""Two operator replicas with leader election: exactly one acts; kill it and the other completes the upgrade."""
from __future__ import annotations

import re
import time

from kubernetes import client

from localcluster.processes import free_port
from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import AGENT_SELECTOR, create_agent
from tests.e2e.operator_process import OperatorProcess
from tests.e2e.recorder import PodRecorder
from localcluster.waiting import wait_for

ELECTION = ("--leader-elect", "--lease-duration=6", "--lease-renew-interval=1")


def acted(process: OperatorProcess) -> int:
    return len(re.findall(r"cniupgrade\.kube\.apply: plan .*DeletePod", process.log_path.read_text(errors="replace")))


def holder(admin_api) -> str:
    return client.CoordinationV1Api(admin_api).read_namespaced_lease("cniupgrade-leader",
                                                                     "cniupgrade-system").spec.holder_identity


def test_one_replica_acts_and_the_other_takes_over_when_it_dies(cluster, admin_api, namespace, operator, plans,
                                                               operator_rbac, operator_policy, tmp_path):
    operator.stop()  # the session's single operator steps aside for the two replicas
    replicas = [OperatorProcess(operator_rbac, tmp_path / f"replica-{i}.log", free_port(), ELECTION, operator_policy)
                for i in range(2)]
    try:
        for replica in replicas:
            replica.start()
            time.sleep(1)
        create_agent(admin_api, namespace, E2E_NODES, ready_delay="700ms")
        with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
            plans.create(rollout={"maxUnavailable": 2})
            wait_for(lambda: plans.status().get("counts", {}).get("upgraded", 0) >= 3, 60, "a few nodes upgraded")
            leader_id = holder(admin_api)
            active = next(r for r in replicas if leader_id.endswith(f"_{r.proc.pid}"))
            standby = next(r for r in replicas if r is not active)
            assert acted(active) > 0 and acted(standby) == 0  # exactly one acts

            active.kill()
            plans.wait_phase("Succeeded", timeout=180)
        assert holder(admin_api).endswith(f"_{standby.proc.pid}")
        assert acted(standby) > 0
        uids = recorder.uids_per_node()
        assert len(uids) == E2E_NODES and all(len(seen) == 2 for seen in uids.values()), uids
        assert recorder.max_unavailable() <= 2, recorder.peak_story()
        lease = client.CoordinationV1Api(admin_api).read_namespaced_lease("cniupgrade-leader", "cniupgrade-system")
        assert lease.spec.lease_transitions >= 1
    finally:
        for replica in replicas:
            replica.kill()


def test_sigterm_mid_roll_ends_the_step_releases_the_lease_and_exits_0(cluster, admin_api, namespace, operator, plans,
                                                                       operator_rbac, operator_policy, tmp_path):
    """A rolling update of the operator's Deployment: the old replica gets SIGTERM mid-roll, ends cleanly within
    the grace period, and the next one goes on at once (not after the Lease's duration)."""
    operator.stop()
    lease_seconds = 30  # long: a takeover before it runs out proves the Lease was given up, not expired
    election = ("--leader-elect", f"--lease-duration={lease_seconds}", "--lease-renew-interval=1")
    replicas = [OperatorProcess(operator_rbac, tmp_path / f"replica-{i}.log", free_port(), election, operator_policy)
                for i in range(2)]
    try:
        for replica in replicas:
            replica.start()
            time.sleep(1)
        create_agent(admin_api, namespace, E2E_NODES, ready_delay="700ms")
        with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
            plans.create(rollout={"maxUnavailable": 2})
            wait_for(lambda: plans.status().get("counts", {}).get("upgraded", 0) >= 3, 60, "a few nodes upgraded")
            leader_id = holder(admin_api)
            active = next(r for r in replicas if leader_id.endswith(f"_{r.proc.pid}"))
            standby = next(r for r in replicas if r is not active)

            terminated_at = time.monotonic()
            active.proc.terminate()
            assert active.proc.wait(30) == 0, active.log_tail()
            exited_in = time.monotonic() - terminated_at
            assert "released lease" in active.log_path.read_text(errors="replace")
            wait_for(lambda: (holder(admin_api) or "").endswith(f"_{standby.proc.pid}"), lease_seconds / 2,
                     "the standby holding the lease well before the old one would have expired")
            took_over_in = time.monotonic() - terminated_at
            plans.wait_phase("Succeeded", timeout=180)
        assert exited_in < 25 and took_over_in < lease_seconds / 2, (exited_in, took_over_in)
        assert acted(standby) > 0
        uids = recorder.uids_per_node()
        assert len(uids) == E2E_NODES and all(len(seen) == 2 for seen in uids.values()), uids
        assert recorder.max_unavailable() <= 2, recorder.peak_story()
    finally:
        for replica in replicas:
            replica.kill()
