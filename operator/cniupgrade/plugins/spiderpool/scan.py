"""One streaming pass over SpiderIPPools, SpiderEndpoints and pods, keeping only what the checks report.

Memory does not grow with the cluster: per finding a count and the first few names, per pool its counts, and
who holds which IP in a temporary SQLite file (ip_ledger.py: duplicates, leaks, orphans found there).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from cniupgrade.plugins.spiderpool import facts, objects_1_0
from cniupgrade.plugins.spiderpool.ip_ledger import IpLedger
from cniupgrade.plugins.spiderpool.sample import Sample

SPIDERPOOL_APP = "spiderpool"  # app.kubernetes.io/name of Spiderpool's own pods


def name_of(obj: Mapping) -> str:
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


@dataclass(frozen=True)
class PoolCounts:
    total: int | None  # status.totalIPCount (None until Spiderpool's controller has counted the pool)
    allocated: int

    @property
    def free(self) -> int | None:
        return None if self.total is None else max(0, self.total - self.allocated)


@dataclass
class ClusterScan:
    """Fed object by object; the checks read the result. `ports`: host port -> the values key that sets it."""
    ports: Mapping[int, str]
    stale_auto_pools: Sample = field(default_factory=Sample)
    none_owner_endpoints: Sample = field(default_factory=Sample)
    port_clashes: Sample = field(default_factory=Sample)
    ips: IpLedger = field(default_factory=IpLedger)
    old_fields: Sample = field(default_factory=Sample)  # objects setting fields 1.0.0 renames or drops, unrecorded
    renames_pending: Sample = field(default_factory=Sample)  # recorded renamed fields not yet under the new name
    coordinators: set[str] = field(default_factory=set)  # SpiderCoordinator names (a cluster has one or two)
    multus_configs: set[str] = field(default_factory=set)  # SpiderMultusConfigs, "<namespace>/<name>"
    pools: dict[str, PoolCounts] = field(default_factory=dict)  # a cluster has tens to thousands of pools

    @classmethod
    def of(cls, ports: Mapping[int, str], ippools: Iterable[Mapping] = (), endpoints: Iterable[Mapping] = (),
           pods: Iterable[Mapping] = (), spiders: Iterable[tuple[str, Mapping]] = ()) -> ClusterScan:
        """`spiders`: (plural, object) of the other Spiderpool kinds (subnets, coordinators, multus configs)."""
        scan = cls(ports)
        for plural, obj in spiders:
            scan.add_spider(plural, obj)
        for pool in ippools:
            scan.add_pool(pool)
        for endpoint in endpoints:
            scan.add_endpoint(endpoint)
        for pod in pods:
            scan.add_pod(pod)
        return scan

    def add_spider(self, plural: str, obj: Mapping) -> None:
        """Any Spiderpool object: what 1.0.0's CRDs would prune from it, and which defaults exist."""
        if unrecorded := objects_1_0.unrecorded(plural, obj):
            self.old_fields.add(f"{plural} {name_of(obj)}: {', '.join(unrecorded)}")
        if pending := objects_1_0.pending_renames(plural, obj):
            self.renames_pending.add(f"{plural} {name_of(obj)}: {', '.join(pending)}")
        if plural == "spidercoordinators":
            self.coordinators.add(obj["metadata"]["name"])
        elif plural == "spidermultusconfigs":
            self.multus_configs.add(name_of(obj))

    def add_pool(self, pool: Mapping) -> None:
        self.add_spider("spiderippools", pool)
        labels = pool["metadata"].get("labels") or {}
        if facts.OLD_AUTO_POOL_LABEL in labels and not all(k in labels for k in facts.AUTO_POOL_LABELS):
            self.stale_auto_pools.add(name_of(pool))
        status, name = pool.get("status") or {}, pool["metadata"]["name"]
        raw = status.get("allocatedIPs")
        allocated = json.loads(raw) if raw else {}
        for ip, owner in allocated.items():
            self.ips.allocated(name, ip, owner.get("pod", "?"))
        self.pools[name] = PoolCounts(status.get("totalIPCount"), status.get("allocatedIPCount", len(allocated)))

    def add_endpoint(self, endpoint: Mapping) -> None:
        status = endpoint.get("status") or {}
        if status.get("ownerControllerType") == "None":
            self.none_owner_endpoints.add(name_of(endpoint))
        pod = name_of(endpoint)
        self.ips.endpoint(pod, status.get("ownerControllerType") or "")
        for entry in (status.get("current") or {}).get("ips") or []:
            for family in ("ipv4", "ipv6"):
                if entry.get(family):
                    self.ips.add(entry[family].split("/")[0], pod)

    def add_pod(self, pod: Mapping) -> None:
        spec = pod.get("spec") or {}
        self.ips.pod(name_of(pod))
        if not spec.get("hostNetwork"):
            for ip in (pod.get("status") or {}).get("podIPs") or []:
                self.ips.add(ip["ip"], name_of(pod))
        if (pod["metadata"].get("labels") or {}).get("app.kubernetes.io/name") == SPIDERPOOL_APP:
            return
        for container in spec.get("containers") or []:
            for port in container.get("ports") or []:
                used = port.get("hostPort") or (port.get("containerPort") if spec.get("hostNetwork") else None)
                if used in self.ports:
                    self.port_clashes.add(f"{name_of(pod)} on {spec.get('nodeName', '?')} uses port {used} "
                                          f"({self.ports[used]})")
