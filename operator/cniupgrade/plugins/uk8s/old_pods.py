"""After a UK8S cni-vpc upgrade: find pods created on a node before its upgrade, and optionally restart their
workloads (as `kubectl rollout restart` does), so they get the new network features."""
from __future__ import annotations

import datetime as dt
from typing import Iterable, Mapping

from cniupgrade.api.status import NodeState, UpgradePlanStatus, parse_time
from cniupgrade.plugins.uk8s import headroom
from cniupgrade.plugins.uk8s.checks import PodRef, old_pods, workloads_to_restart
from cniupgrade.seams.cluster import (DAEMONSETS, DEPLOYMENTS, NAMESPACES, PODS, REPLICASETS, STATEFULSETS,
                                      ClusterReads, ClusterWrites, items)

REPORT_LIMIT = 50
RESTART_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
RESTARTABLE = {"Deployment": DEPLOYMENTS, "StatefulSet": STATEFULSETS, "DaemonSet": DAEMONSETS}


class OldPodsReport:
    def __init__(self, reads: ClusterReads, restarter: ClusterWrites):
        self.reads = reads
        self.restarter = restarter  # the plan's identity (impersonated with serviceAccountName)
        self._replicaset_owner: dict[tuple[str, str], tuple[str, str] | None] = {}

    def _owner(self, pod: dict) -> tuple[str, str] | None:
        for ref in pod["metadata"].get("ownerReferences") or []:
            if ref["kind"] in ("StatefulSet", "DaemonSet"):
                return ref["kind"], ref["name"]
            if ref["kind"] == "ReplicaSet":
                key = (pod["metadata"]["namespace"], ref["name"])
                if key not in self._replicaset_owner:
                    self._replicaset_owner[key] = self._deployment_of(*key)
                return self._replicaset_owner[key]
        return None  # a bare pod or a Job's: nothing to roll

    def _deployment_of(self, namespace: str, replicaset: str) -> tuple[str, str] | None:
        rs = self.reads.get(REPLICASETS, replicaset, namespace)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return None  # being deleted (say with its Deployment): nothing to roll
        owner = next((r for r in rs["metadata"].get("ownerReferences") or [] if r["kind"] == "Deployment"), None)
        return ("Deployment", owner["name"]) if owner else None

    def find(self, status: UpgradePlanStatus) -> list[PodRef]:
        return self.find_on({r.name: parse_time(r.finished_at) for r in status.nodes
                             if r.state is NodeState.upgraded and r.finished_at})

    def find_on(self, upgraded_at: Mapping[str, dt.datetime]) -> list[PodRef]:
        """Pods using the CNI on these nodes, created before the node's time."""
        refs = []
        leaving = {ns["metadata"]["name"] for ns in items(self.reads, NAMESPACES)
                   if ns["metadata"].get("deletionTimestamp")}
        for pod in items(self.reads, PODS):
            spec, meta = pod.get("spec") or {}, pod["metadata"]
            if (spec.get("hostNetwork") or meta.get("deletionTimestamp") or meta["namespace"] in leaving
                    or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")):
                continue  # host-network pods do not use the CNI; finished and departing ones will not run again
            if spec.get("nodeName") in upgraded_at:
                refs.append(PodRef(meta["namespace"], meta["name"], spec["nodeName"],
                                   parse_time(meta["creationTimestamp"]), self._owner(pod)))
        return old_pods(refs, upgraded_at)

    def restart(self, workloads: list[tuple[str, Mapping]]) -> list[str]:
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTART_ANNOTATION: now}}}}}
        restarted = []
        for kind, workload in workloads:
            namespace, name = workload["metadata"]["namespace"], workload["metadata"]["name"]
            self.restarter.patch(RESTARTABLE[kind], name, namespace, patch)
            restarted.append(f"{kind}/{namespace}/{name}")
        return restarted


def live_workloads(reads: ClusterReads, pods: Iterable[PodRef]) -> list[tuple[str, Mapping]]:
    """The pods' workloads (kind, object) as the cluster shows them, in a stable order: one gone or being deleted
    starts no new pods, so it is neither counted for the restart's IPs nor restarted."""
    wanted = workloads_to_restart(pods)
    shown = {(kind, w["metadata"]["namespace"], w["metadata"]["name"]): w
             for kind in sorted({kind for kind, _, _ in wanted}) for w in items(reads, RESTARTABLE[kind])}
    return [(key[0], shown[key]) for key in wanted
            if key in shown and not shown[key]["metadata"].get("deletionTimestamp")]


def projected_headroom(reads: ClusterReads, namespace: str, nodes: Iterable[str]) -> headroom.Headroom | None:
    """Before the upgrade: every pod on these nodes will be old once they are upgraded."""
    now = dt.datetime.now(dt.timezone.utc)
    pods = OldPodsReport(reads, None).find_on({node: now for node in nodes})
    return headroom.read_headroom(reads, namespace, live_workloads(reads, pods))


def report(reads: ClusterReads, restarter: ClusterWrites, status: UpgradePlanStatus, restart: bool,
           ipamd_namespace: str) -> UpgradePlanStatus:
    """`reads` finds the pods; `restarter` (the plan's identity) restarts their workloads, unless ipamd's pools
    hold too few IPs for the restart: then status.restartHeld says why and nothing is restarted yet."""
    finder = OldPodsReport(reads, restarter)
    pods = finder.find(status)
    restarted = []
    if restart:
        workloads = live_workloads(reads, pods)
        room = headroom.read_headroom(reads, ipamd_namespace, workloads)
        if room is not None and room.short:
            return status.model_copy(update={"restart_held": f"{room.summary}: {'; '.join(room.rows[:5])}"})
        restarted = finder.restart(workloads)
    return status.model_copy(update={
        "old_pods": [f"{p.namespace}/{p.name} on {p.node}" for p in pods[:REPORT_LIMIT]],
        "old_pods_count": len(pods), "restarted_workloads": restarted, "restart_held": None})
