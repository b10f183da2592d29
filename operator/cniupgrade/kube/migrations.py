"""Carry out plugin migrations. Each one re-reads the cluster and changes only what still needs it."""
from __future__ import annotations

import logging

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.kube.client import paginate
from cniupgrade.kube.spiderpool import served_version
from cniupgrade.plugins.spiderpool import facts
from cniupgrade.plugins.spiderpool.migrations import CannotDerive, new_auto_pool_labels

log = logging.getLogger(__name__)
FIELD_MANAGER = "cniupgrade"


class MigrationError(RuntimeError):
    pass


class SpiderpoolMigrator:
    """Reads as the operator; writes (and reads what it writes from, the CRD source) as `acting`, the plan's
    identity."""

    def __init__(self, acting: client.ApiClient, api: client.ApiClient, spec: UpgradePlanSpec, plan_namespace: str):
        self.spec, self.plan_namespace = spec, plan_namespace
        self.core, self.apps, self.batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.acting_core, self.acting_apps = client.CoreV1Api(acting), client.AppsV1Api(acting)
        self.acting_custom, self.acting_ext = client.CustomObjectsApi(acting), client.ApiextensionsV1Api(acting)

    def run(self, migration_id: str) -> str:
        handlers = {
            "spiderpool.endpoint-owner-type-pod": self.endpoint_owner_type_pod,
            "spiderpool.delete-init-pod": self.delete_init_pod,
            "spiderpool.apply-crds": self.apply_crds,
            "spiderpool.add-auto-pool-labels": self.add_auto_pool_labels,
            "spiderpool.controller-max-surge-0": self.controller_max_surge_0,
        }
        if migration_id not in handlers:
            raise MigrationError(f"unknown migration {migration_id}")
        return handlers[migration_id]()

    def _served_version(self) -> str:
        version = served_version(self.custom, "spiderippools")
        if version is None:
            raise MigrationError("no served version of spiderippools")
        return version

    def endpoint_owner_type_pod(self) -> str:
        version = self._served_version()
        fixed = 0
        for endpoint in paginate(self.custom.list_cluster_custom_object, group=facts.GROUP, version=version,
                                 plural="spiderendpoints"):
            if (endpoint.get("status") or {}).get("ownerControllerType") != "None":
                continue
            meta = endpoint["metadata"]
            # No status subresource on this CRD: status is part of the object. The resourceVersion makes a
            # concurrent change by Spiderpool fail (409) instead of being overwritten.
            self.acting_custom.patch_namespaced_custom_object(
                facts.GROUP, version, meta["namespace"], "spiderendpoints", meta["name"],
                {"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": {"ownerControllerType": "Pod"}})
            fixed += 1
        return f"{fixed} SpiderEndpoint(s) now have ownerControllerType Pod"

    def delete_init_pod(self) -> str:
        try:
            pod = self.core.read_namespaced_pod(facts.INIT_POD, self.spec.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return "no spiderpool-init Pod"
            raise
        if pod.metadata.owner_references:
            return "spiderpool-init belongs to a Job: left alone"
        self.acting_core.delete_namespaced_pod(facts.INIT_POD, self.spec.namespace, body=client.V1DeleteOptions(
            preconditions=client.V1Preconditions(uid=pod.metadata.uid)))
        return f"deleted Pod {self.spec.namespace}/{facts.INIT_POD}"

    def apply_crds(self) -> str:
        name = self.spec.spiderpool.crd_source_config_map
        if not name:
            raise MigrationError("spec.spiderpool.crdSourceConfigMap is not set")
        source = self.acting_core.read_namespaced_config_map(name, self.plan_namespace)
        manifests = [(key, doc) for key, text in sorted((source.data or {}).items())
                     for doc in yaml.safe_load_all(text) if doc]
        for key, doc in manifests:  # all are vetted before any is applied: a bad source changes nothing
            if refusal := crd_refusal(doc, self.spec.namespace):
                raise MigrationError(f"ConfigMap {name}/{key}: {refusal}")
        for _, doc in manifests:
            self.acting_ext.patch_custom_resource_definition(
                doc["metadata"]["name"], doc, field_manager=FIELD_MANAGER, force=True,
                _content_type="application/apply-patch+yaml")
        return f"applied CRDs {', '.join(d['metadata']['name'] for _, d in manifests)} from ConfigMap {name}"

    def _workloads(self) -> list[dict]:
        listers = [(self.apps.list_deployment_for_all_namespaces, "Deployment"),
                   (self.apps.list_stateful_set_for_all_namespaces, "StatefulSet"),
                   (self.apps.list_daemon_set_for_all_namespaces, "DaemonSet"),
                   (self.apps.list_replica_set_for_all_namespaces, "ReplicaSet"),
                   (self.batch.list_job_for_all_namespaces, "Job"),
                   (self.batch.list_cron_job_for_all_namespaces, "CronJob")]
        return [{"kind": kind, "metadata": w["metadata"]} for list_fn, kind in listers for w in paginate(list_fn)]

    def add_auto_pool_labels(self) -> str:
        version = self._served_version()
        workloads = None
        patched, failures = [], []
        for pool in paginate(self.custom.list_cluster_custom_object, group=facts.GROUP, version=version,
                             plural="spiderippools"):
            labels = pool["metadata"].get("labels") or {}
            if facts.OLD_AUTO_POOL_LABEL not in labels or all(k in labels for k in facts.AUTO_POOL_LABELS):
                continue
            workloads = workloads if workloads is not None else self._workloads()
            try:
                new = new_auto_pool_labels(pool, workloads)
            except CannotDerive as exc:
                failures.append(str(exc))
                continue
            self.acting_custom.patch_cluster_custom_object(facts.GROUP, version, "spiderippools", pool["metadata"]["name"],
                                                    {"metadata": {"labels": new}})
            patched.append(pool["metadata"]["name"])
        if failures:
            raise MigrationError(f"labelled {len(patched)} pool(s); cannot derive: {'; '.join(failures)}")
        return f"labelled auto pool(s) {', '.join(patched) or '(none left)'}"

    def controller_max_surge_0(self) -> str:
        patch = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}}}
        self.acting_apps.patch_namespaced_deployment(facts.CONTROLLER_DEPLOYMENT, self.spec.namespace, patch)
        return "spiderpool-controller now updates one replica at a time without a surge pod (maxSurge 0)"


def crd_refusal(doc: dict, plugin_namespace: str) -> str | None:
    """Why a manifest from the CRD source is not applied: only Spiderpool's own CRDs, and a conversion webhook
    only to a Service in the plugin's namespace (a URL or another Service would receive every object)."""
    name = (doc.get("metadata") or {}).get("name") or ""
    if doc.get("kind") != "CustomResourceDefinition" or not name.endswith("." + facts.GROUP) \
            or (doc.get("spec") or {}).get("group") != facts.GROUP:
        return f"holds {doc.get('kind')} {name}: only {facts.GROUP} CRDs are applied"
    conversion = (doc.get("spec") or {}).get("conversion") or {}
    if conversion.get("strategy") == "Webhook":
        client_config = (conversion.get("webhook") or {}).get("clientConfig") or {}
        service = client_config.get("service") or {}
        if client_config.get("url") or service.get("namespace") != plugin_namespace:
            where = client_config.get("url") or f"Service {service.get('namespace')}/{service.get('name')}"
            return (f"CRD {name} converts through {where}: only a Service in the plugin's namespace "
                    f"{plugin_namespace} is accepted")
    return None


def run_migration(acting: client.ApiClient, api: client.ApiClient, spec: UpgradePlanSpec, plan_namespace: str,
                  migration_id: str) -> str:
    """`acting` makes the changes (the plan's identity); `api` reads."""
    if migration_id.startswith("spiderpool."):
        return SpiderpoolMigrator(acting, api, spec, plan_namespace).run(migration_id)
    raise MigrationError(f"unknown migration {migration_id}")
