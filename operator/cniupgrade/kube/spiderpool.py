"""Read what Spiderpool's pre-flight checks look at: its helm release, CRDs, pools, endpoints, pods, workloads.

Pools, endpoints and pods are streamed page by page into a ClusterScan, never held as lists.
"""
from __future__ import annotations

import json
from typing import Callable, Iterator

from kubernetes import client
from kubernetes.client.rest import ApiException
from packaging.version import Version

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.kube.client import paginate
from cniupgrade.plugins import helm
from cniupgrade.plugins.spiderpool import facts
from cniupgrade.plugins.spiderpool.checks import SpiderpoolSnapshot, host_ports
from cniupgrade.plugins.spiderpool.scan import ClusterScan
from cniupgrade.rollout.planner import NodeInfo

SERVED_VERSIONS = ("v2beta1", "v1")  # 0.3.x served only v1


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

    def _custom(self, plural: str) -> Iterator[dict]:
        for version in SERVED_VERSIONS:
            pages = paginate(self.custom.list_cluster_custom_object, group=facts.GROUP, version=version, plural=plural)
            try:
                first = next(pages, None)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                continue
            if first is not None:
                yield first
                yield from pages
            return

    def scan(self, release: helm.HelmRelease | None) -> ClusterScan:
        scan = ClusterScan(host_ports(release))
        for pool in self._custom("spiderippools"):
            scan.add_pool(pool)
        for endpoint in self._custom("spiderendpoints"):
            scan.add_endpoint(endpoint)
        for pod in paginate(self.core.list_pod_for_all_namespaces):
            scan.add_pod(pod)
        return scan

    def _optional(self, read: Callable, *args) -> dict | None:
        try:
            return json.loads(read(*args, _preload_content=False).data)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def snapshot(self, spec: UpgradePlanSpec, target: Version, nodes: list[NodeInfo]
                 ) -> tuple[SpiderpoolSnapshot, helm.HelmRelease | None]:
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
            init_pod=init_pod, crd_source=spec.spiderpool.crd_source_config_map)
        return snapshot, release
