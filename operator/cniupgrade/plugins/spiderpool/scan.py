"""One streaming pass over SpiderIPPools, SpiderEndpoints and pods, keeping only what the checks report.

Memory does not grow with the cluster: per finding a count and the first few names, and the IP -> holder
pairs of the duplicate-IP check in a temporary SQLite file (grouped there, not in Python).
"""
from __future__ import annotations

import bisect
import json
import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from cniupgrade.plugins.spiderpool import facts, objects_1_0
from cniupgrade.preflight.framework import MAX_NAMED_OBJECTS

BATCH = 2000
SPIDERPOOL_APP = "spiderpool"  # app.kubernetes.io/name of Spiderpool's own pods


def name_of(obj: Mapping) -> str:
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


@dataclass
class Sample:
    """How many, and the first MAX_NAMED_OBJECTS names in name order (whatever order they were fed in:
    lists fetched at once interleave)."""
    count: int = 0
    names: list[str] = field(default_factory=list)

    def add(self, name: str) -> None:
        self.count += 1
        if len(self.names) < MAX_NAMED_OBJECTS:
            bisect.insort(self.names, name)
        elif name < self.names[-1]:
            bisect.insort(self.names, name)
            self.names.pop()


@dataclass(frozen=True)
class Duplicates:
    ips: int  # how many IPs have more than one holder
    detail: tuple[tuple[str, tuple[str, ...]], ...]  # the first few: (ip, holders)
    pods: Sample  # every pod involved, counted once


class IpLedger:
    """(IP, holder) pairs in a temporary SQLite file; duplicates are found by GROUP BY on disk."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="cniupgrade-ips-")
        self._db = sqlite3.connect(os.path.join(self._dir.name, "ips.db"))
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE held (ip TEXT NOT NULL, holder TEXT NOT NULL)")
        self._pending: list[tuple[str, str]] = []

    def add(self, ip: str, holder: str) -> None:
        self._pending.append((ip, holder))
        if len(self._pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        self._db.executemany("INSERT INTO held VALUES (?, ?)", self._pending)
        self._pending.clear()

    def duplicates(self, detail: int = 10) -> Duplicates:
        self._flush()
        self._db.execute("CREATE INDEX IF NOT EXISTS by_ip ON held (ip, holder)")
        shared = "SELECT ip FROM held GROUP BY ip HAVING COUNT(DISTINCT holder) > 1"
        (ips,) = self._db.execute(f"SELECT COUNT(*) FROM ({shared})").fetchone()
        shown = [(ip, tuple(sorted(set(holders.split("\n"))))) for ip, holders in self._db.execute(
            f"SELECT ip, group_concat(holder, char(10)) FROM held WHERE ip IN ({shared} ORDER BY ip LIMIT ?) "
            f"GROUP BY ip ORDER BY ip", (detail,))]
        pods = Sample()
        (pods.count,) = self._db.execute(f"SELECT COUNT(DISTINCT holder) FROM held WHERE ip IN ({shared})").fetchone()
        pods.names = [h for (h,) in self._db.execute(
            f"SELECT DISTINCT holder FROM held WHERE ip IN ({shared}) ORDER BY holder LIMIT ?", (MAX_NAMED_OBJECTS,))]
        return Duplicates(ips, tuple(shown), pods)

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()


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
        raw = (pool.get("status") or {}).get("allocatedIPs")
        for ip, owner in (json.loads(raw) if raw else {}).items():
            self.ips.add(ip, owner.get("pod", "?"))

    def add_endpoint(self, endpoint: Mapping) -> None:
        status = endpoint.get("status") or {}
        if status.get("ownerControllerType") == "None":
            self.none_owner_endpoints.add(name_of(endpoint))
        pod = name_of(endpoint)
        for entry in (status.get("current") or {}).get("ips") or []:
            for family in ("ipv4", "ipv6"):
                if entry.get(family):
                    self.ips.add(entry[family].split("/")[0], pod)

    def add_pod(self, pod: Mapping) -> None:
        spec = pod.get("spec") or {}
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
