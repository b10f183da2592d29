"""Read what Spiderpool's pre-flight checks look at: its helm release, CRDs, pools, endpoints, pods, workloads.

Pools, endpoints and pods are streamed page by page into a ClusterScan, never held as lists.
"""
from __future__ import annotations

import functools
from typing import Iterable, Iterator

from packaging.version import Version

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.plugins import helm
from cniupgrade.plugins.spiderpool import facts
from cniupgrade.plugins.spiderpool.checks import host_ports
from cniupgrade.plugins.spiderpool.snapshot import SpiderpoolSnapshot
from cniupgrade.plugins.spiderpool.scan import ClusterScan
from cniupgrade.plugins.spiderpool.storage_version import OLD_CRDS, OLD_PLURALS, stores_old
from cniupgrade.seams.cluster import (CONFIGMAPS, CRDS, DEPLOYMENTS, NAMESPACES, PODS, SECRETS, ClusterReads,
                                      Forbidden, Resource, items)
from cniupgrade.seams.objects import NodeInfo

SERVED_VERSIONS = ("v2beta1", "v1")  # 0.3.x served only v1
ENDPOINT_STREAMS = 3
OTHER_KINDS = ("spidersubnets", "spidercoordinators", "spidermultusconfigs")  # few objects: one list each


def spider(plural: str, version: str) -> Resource:
    return Resource(facts.GROUP, version, plural, namespaced=plural not in facts.CLUSTER_SCOPED)


def served_version(reads: ClusterReads, plural: str) -> str | None:
    """The newest version of a Spiderpool resource the cluster serves (None: the CRD is not installed)."""
    return next((v for v in SERVED_VERSIONS if reads.serves(spider(plural, v))), None)


class SpiderpoolReader:
    def __init__(self, reads: ClusterReads):
        self.reads = reads

    def release(self, namespace: str, name: str) -> helm.HelmRelease | None:
        selector = f"owner=helm,name={name}"
        objects = [{**o, "kind": "Secret"} for o in items(self.reads, SECRETS, namespace, selector)]
        if not objects:  # the configmap storage driver
            objects = [{**o, "kind": "ConfigMap"} for o in items(self.reads, CONFIGMAPS, namespace, selector)]
        return helm.current_release(objects, name)

    def crds(self) -> dict[str, dict]:
        found = {}
        for name in (facts.CRD_MULTUS_CONFIG, facts.CRD_COORDINATOR):
            crd = self.reads.get(CRDS, name)
            if crd is not None:
                found[name] = crd
        return found

    def v1_stored(self) -> dict[str, int]:
        """The Spiderpool CRDs that still list v1 in status.storedVersions -> how many objects each holds."""
        found = {}
        for plural, name in zip(OLD_PLURALS, OLD_CRDS):
            crd = self.reads.get(CRDS, name)
            if crd is not None and stores_old(crd):
                found[name] = sum(len(page) for page in self._custom(plural, served_version(self.reads, plural)))
        return found

    def _custom(self, plural: str, version: str | None, namespaces: Iterable[str] | None = None
                ) -> Iterator[list[dict]]:
        """Pages of a Spiderpool resource in `version` (None: not served): cluster-wide, or namespace by namespace."""
        if version is None:
            return
        for namespace in [None] if namespaces is None else namespaces:
            yield from self.reads.pages(spider(plural, version), namespace)

    def _endpoint_streams(self) -> dict[str, Iterator[list[dict]]]:
        """SpiderEndpoints in ENDPOINT_STREAMS lists at once, each over its share of the namespaces (one list
        keeps one API server core busy); one cluster-wide list when namespaces may not be listed."""
        version = served_version(self.reads, "spiderendpoints")
        try:
            names = sorted(n["metadata"]["name"] for n in items(self.reads, NAMESPACES))
        except Forbidden:
            return {"endpoints": self._custom("spiderendpoints", version)}
        return {f"endpoints-{i}": self._custom("spiderendpoints", version, names[i::ENDPOINT_STREAMS])
                for i in range(ENDPOINT_STREAMS)}

    def scan(self, release: helm.HelmRelease | None) -> ClusterScan:
        """Pools, endpoints and pods are listed at once (the API server spends ~0.15 ms per object encoding
        them: 100k endpoints one after the other took longer than the pre-flight's budget) and scanned here."""
        scan = ClusterScan(host_ports(release))
        streams = {"pools": self._custom("spiderippools", served_version(self.reads, "spiderippools")),
                   **self._endpoint_streams(),
                   "pods": self.reads.pages(PODS),
                   **{plural: self._custom(plural, served_version(self.reads, plural)) for plural in OTHER_KINDS}}
        try:
            for kind, page in self.reads.interleave(streams):
                add = (scan.add_pool if kind == "pools" else scan.add_pod if kind == "pods"
                       else functools.partial(scan.add_spider, kind) if kind in OTHER_KINDS else scan.add_endpoint)
                for obj in page:
                    add(obj)
        except BaseException:
            scan.ips.close()
            raise
        return scan

    def snapshot(self, spec: UpgradePlanSpec, target: Version, nodes: list[NodeInfo],
                 running_version: str | None = None) -> SpiderpoolSnapshot:
        namespace = spec.namespace
        release = self.release(namespace, spec.spiderpool.release_name)
        init_pod = self.reads.get(PODS, facts.INIT_POD, namespace)
        if init_pod and init_pod["metadata"].get("ownerReferences"):
            init_pod = None  # a Job's pod (0.8.8+): nothing to do
        return SpiderpoolSnapshot(
            namespace=namespace, target=target, release=release, crds=self.crds(), scan=self.scan(release),
            nodes=tuple(nodes), controller=self.reads.get(DEPLOYMENTS, facts.CONTROLLER_DEPLOYMENT, namespace),
            init_pod=init_pod, crd_source=spec.spiderpool.crd_source_config_map, running_version=running_version,
            v1_stored=self.v1_stored())
