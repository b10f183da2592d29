"""Read what Spiderpool's pre-flight checks look at: its helm release, CRDs, pools, endpoints, pods, workloads.

Pools, endpoints and pods are streamed page by page into a ClusterScan, never held as lists.
"""
from __future__ import annotations

import json
from typing import Callable, Iterable, Iterator

from kubernetes import client
from kubernetes.client.rest import ApiException
from packaging.version import Version

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.kube.client import interleave, pages, paginate
from cniupgrade.plugins import helm
from cniupgrade.plugins.spiderpool import facts
from cniupgrade.plugins.spiderpool.checks import SpiderpoolSnapshot, host_ports
from cniupgrade.plugins.spiderpool.scan import ClusterScan
from cniupgrade.rollout.planner import NodeInfo

SERVED_VERSIONS = ("v2beta1", "v1")  # 0.3.x served only v1
ENDPOINT_STREAMS = 3


def served_version(custom: client.CustomObjectsApi, plural: str) -> str | None:
    """The newest version of a Spiderpool resource the cluster serves (None: the CRD is not installed)."""
    for version in SERVED_VERSIONS:
        try:
            custom.list_cluster_custom_object(facts.GROUP, version, plural, limit=1, _preload_content=False)
            return version
        except ApiException as exc:
            if exc.status != 404:
                raise
    return None


class SpiderpoolReader:
    def __init__(self, api: client.ApiClient):
        self.core, self.apps = client.CoreV1Api(api), client.AppsV1Api(api)
        self.custom, self.ext = client.CustomObjectsApi(api), client.ApiextensionsV1Api(api)

    def release(self, namespace: str, name: str) -> helm.HelmRelease | None:
        selector = f"owner=helm,name={name}"
        objects = [{**o, "kind": "Secret"} for o in paginate(self.core.list_namespaced_secret, namespace=namespace,
                                                             label_selector=selector)]
        if not objects:  # the configmap storage driver
            objects = [{**o, "kind": "ConfigMap"} for o in paginate(
                self.core.list_namespaced_config_map, namespace=namespace, label_selector=selector)]
        return helm.current_release(objects, name)

    def crds(self) -> dict[str, dict]:
        found = {}
        for name in (facts.CRD_MULTUS_CONFIG, facts.CRD_COORDINATOR):
            try:
                found[name] = json.loads(self.ext.read_custom_resource_definition(name, _preload_content=False).data)
            except ApiException as exc:
                if exc.status != 404:
                    raise
        return found

    def _custom(self, plural: str, version: str | None, namespaces: Iterable[str] | None = None
                ) -> Iterator[list[dict]]:
        """Pages of a Spiderpool resource in `version` (None: not served): cluster-wide, or namespace by namespace."""
        if version is None:
            return
        if namespaces is None:
            yield from pages(self.custom.list_cluster_custom_object, group=facts.GROUP, version=version,
                             plural=plural)
            return
        for namespace in namespaces:
            yield from pages(self.custom.list_namespaced_custom_object, group=facts.GROUP, version=version,
                             namespace=namespace, plural=plural)

    def _endpoint_streams(self) -> dict[str, Iterator[list[dict]]]:
        """SpiderEndpoints in ENDPOINT_STREAMS lists at once, each over its share of the namespaces (one list
        keeps one API server core busy); one cluster-wide list when namespaces may not be listed."""
        version = served_version(self.custom, "spiderendpoints")
        try:
            names = sorted(n["metadata"]["name"] for n in paginate(self.core.list_namespace))
        except ApiException as exc:
            if exc.status != 403:
                raise
            return {"endpoints": self._custom("spiderendpoints", version)}
        return {f"endpoints-{i}": self._custom("spiderendpoints", version, names[i::ENDPOINT_STREAMS])
                for i in range(ENDPOINT_STREAMS)}

    def scan(self, release: helm.HelmRelease | None) -> ClusterScan:
        """Pools, endpoints and pods are listed at once (the API server spends ~0.15 ms per object encoding
        them: 100k endpoints one after the other took longer than the pre-flight's budget) and scanned here."""
        scan = ClusterScan(host_ports(release))
        streams = {"pools": self._custom("spiderippools", served_version(self.custom, "spiderippools")),
                   **self._endpoint_streams(),
                   "pods": pages(self.core.list_pod_for_all_namespaces)}
        try:
            for kind, page in interleave(streams):
                add = scan.add_pool if kind == "pools" else scan.add_pod if kind == "pods" else scan.add_endpoint
                for obj in page:
                    add(obj)
        except BaseException:
            scan.ips.close()
            raise
        return scan

    def _optional(self, read: Callable, *args) -> dict | None:
        try:
            return json.loads(read(*args, _preload_content=False).data)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def snapshot(self, spec: UpgradePlanSpec, target: Version, nodes: list[NodeInfo],
                 running_version: str | None = None) -> SpiderpoolSnapshot:
        namespace = spec.namespace
        release = self.release(namespace, spec.spiderpool.release_name)
        init_pod = self._optional(self.core.read_namespaced_pod, facts.INIT_POD, namespace)
        if init_pod and init_pod["metadata"].get("ownerReferences"):
            init_pod = None  # a Job's pod (0.8.8+): nothing to do
        snapshot = SpiderpoolSnapshot(
            namespace=namespace, target=target, release=release, crds=self.crds(),
            scan=self.scan(release),
            nodes=tuple(nodes),
            controller=self._optional(self.apps.read_namespaced_deployment, facts.CONTROLLER_DEPLOYMENT, namespace),
            init_pod=init_pod, crd_source=spec.spiderpool.crd_source_config_map, running_version=running_version)
        return snapshot
