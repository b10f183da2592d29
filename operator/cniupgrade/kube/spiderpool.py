"""Read what Spiderpool's pre-flight checks look at: its helm release, CRDs, pools, endpoints, pods, workloads.

Lists are paginated and trimmed to the fields the checks read.
"""
from __future__ import annotations

import json
from typing import Callable

from kubernetes import client
from kubernetes.client.rest import ApiException
from packaging.version import Version

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.kube.client import paginate
from cniupgrade.plugins import helm
from cniupgrade.plugins.spiderpool import facts
from cniupgrade.plugins.spiderpool.checks import SpiderpoolSnapshot
from cniupgrade.rollout.planner import NodeInfo

SERVED_VERSIONS = ("v2beta1", "v1")  # 0.3.x served only v1


def trim_pod(pod: dict) -> dict:
    spec, meta = pod.get("spec") or {}, pod["metadata"]
    return {"metadata": {"name": meta["name"], "namespace": meta.get("namespace"), "labels": meta.get("labels") or {}},
            "spec": {"hostNetwork": spec.get("hostNetwork", False), "nodeName": spec.get("nodeName"),
                     "containers": [{"ports": c.get("ports") or []} for c in spec.get("containers") or []]},
            "status": {"podIPs": (pod.get("status") or {}).get("podIPs") or []}}


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

    def _custom(self, plural: str) -> list[dict]:
        for version in SERVED_VERSIONS:
            try:
                return list(paginate(self.custom.list_cluster_custom_object, group=facts.GROUP, version=version,
                                     plural=plural))
            except ApiException as exc:
                if exc.status != 404:
                    raise
        return []

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
            ippools=tuple(self._custom("spiderippools")), endpoints=tuple(self._custom("spiderendpoints")),
            pods=tuple(trim_pod(p) for p in paginate(self.core.list_pod_for_all_namespaces)),
            nodes=tuple(nodes),
            controller=self._optional(self.apps.read_namespaced_deployment, facts.CONTROLLER_DEPLOYMENT, namespace),
            init_pod=init_pod, crd_source=spec.spiderpool.crd_source_config_map)
        return snapshot, release
