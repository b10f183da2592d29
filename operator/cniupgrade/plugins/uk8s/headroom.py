"""IP headroom for restarting workloads on UK8S: each node's ipamd keeps a pool of VPC IPs ready for new pods
and reports it in its Ipamd object (kube-system/<node>: status.current, the low and high watermarks, and
dry | hungry | normal | overflow). A restart creates each workload's surge of new pods before their old ones go;
when the pools hold fewer free IPs than that, every extra pod waits on a VPC API call (or fails when the subnet
is short), so the restart waits until they hold enough."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from cniupgrade.plugins.uk8s import facts
from cniupgrade.preflight.framework import MAX_NAMED_OBJECTS, Finding, Severity
from cniupgrade.seams.cluster import ClusterReads, Resource, items

IPAMDS = Resource(facts.GROUP, "v1beta1", "ipamds")
CHECK_ID = "uk8s.ip-headroom"
DEFAULT_DEPLOYMENT_SURGE = "25%"


@dataclass(frozen=True)
class NodePool:
    node: str
    current: int  # free IPs ready in the node's pool
    low: int
    high: int
    status: str  # dry | hungry | normal | overflow, as ipamd judged it

    @property
    def row(self) -> str:
        return f"{self.node}: {self.current} free (low {self.low}, high {self.high}) {self.status or '?'}"


def node_pool(ipamd: Mapping) -> NodePool:
    spec, status = ipamd.get("spec") or {}, ipamd.get("status") or {}
    return NodePool(spec.get("node") or ipamd["metadata"]["name"], int(status.get("current") or 0),
                    int(status.get("low") or 0), int(status.get("high") or 0), status.get("status") or "")


def resolve(value: int | str | None, total: int, default: int | str = 0) -> int:
    """A maxSurge: a count, or a share of `total` rounded up (as Kubernetes resolves a surge)."""
    value = default if value is None else value
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(total * int(value[:-1]) / 100)
    return int(value)


def surge(kind: str, workload: Mapping) -> int:
    """New pods a restart of the workload runs beside its old ones at once (each needs a new IP); a workload on
    the host network needs none."""
    spec = workload.get("spec") or {}
    if ((spec.get("template") or {}).get("spec") or {}).get("hostNetwork"):
        return 0
    strategy = spec.get("updateStrategy" if kind != "Deployment" else "strategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    if kind == "Deployment":
        if strategy.get("type") == "Recreate":
            return 0
        return resolve(rolling.get("maxSurge"), spec.get("replicas", 1), DEFAULT_DEPLOYMENT_SURGE)
    if kind == "DaemonSet":
        return resolve(rolling.get("maxSurge"), (workload.get("status") or {}).get("desiredNumberScheduled", 0))
    return 0  # a StatefulSet replaces each pod after the old one is gone


@dataclass(frozen=True)
class Headroom:
    pools: tuple[NodePool, ...]
    need: int  # new IPs the restart needs at once
    workloads: int  # workloads restarted

    @property
    def free(self) -> int:
        return sum(p.current for p in self.pools)

    @property
    def short(self) -> bool:
        return bool(self.pools) and self.need > self.free

    @property
    def tightest(self) -> list[NodePool]:
        return sorted(self.pools, key=lambda p: (p.current, p.node))

    @property
    def rows(self) -> tuple[str, ...]:
        return tuple(p.row for p in self.tightest[:MAX_NAMED_OBJECTS])

    @property
    def summary(self) -> str:
        dry = [p.node for p in self.tightest if p.status in ("dry", "hungry")]
        return (f"restarting {self.workloads} workload(s) needs {self.need} new IP(s) at once (their surge); the "
                f"ipamd pools of {len(self.pools)} node(s) hold {self.free} free"
                + (f"; dry or hungry: {', '.join(dry[:10])}" + (f" and {len(dry) - 10} more" if len(dry) > 10 else "")
                   if dry else ""))


def read_headroom(reads: ClusterReads, namespace: str, workloads: Sequence[tuple[str, Mapping]]) -> Headroom | None:
    """The pools and what restarting `workloads` ((kind, object), none being deleted) needs; None without ipamd
    (no Ipamd kind served, or no objects: each pod's IP then comes from the VPC as it starts)."""
    if not reads.serves(IPAMDS):
        return None
    pools = tuple(node_pool(i) for i in items(reads, IPAMDS, namespace))
    if not pools:
        return None
    return Headroom(pools, sum(surge(kind, w) for kind, w in workloads), len(workloads))


def check(headroom: Headroom | None) -> Finding:
    if headroom is None:
        return Finding(CHECK_ID, Severity.warning, True,
                       "no Ipamd objects (ipamd not installed): each pod's IP comes from the VPC as it starts; "
                       "the restart's IPs are not counted")
    if not headroom.short:
        return Finding(CHECK_ID, Severity.warning, True, headroom.summary, objects=headroom.rows)
    return Finding(CHECK_ID, Severity.warning, False,
                   f"{headroom.summary}: too few; the restart after the upgrade waits until they hold enough",
                   "raise ipamd's watermarks (or free IPs in the subnet) before the upgrade ends, or give the "
                   "restarted Deployments a smaller maxSurge", headroom.rows)
