"""Carry out Spiderpool's migrations. Each one re-reads the cluster and changes only what still needs it.

Reads that decide what to change go through `reads` (the operator); the changes, and the CRD source they are
made from, through `acting` (the plan's identity: its impersonated ServiceAccount, if any).
"""
from __future__ import annotations


from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.plugins.crd_source import vetted_crds
from cniupgrade.plugins.spiderpool import facts
from cniupgrade.plugins.spiderpool.migrations import CannotDerive, new_auto_pool_labels
from cniupgrade.plugins.spiderpool.object_migrations import ObjectMigrations
from cniupgrade.plugins.spiderpool.reader import served_version, spider
from cniupgrade.plugins.spiderpool.storage_move import StorageVersionMove
from cniupgrade.seams.cluster import (CRDS, CRONJOBS, DAEMONSETS, DEPLOYMENTS, JOBS, PODS, REPLICASETS,
                                      STATEFULSETS, ClusterAccess, ClusterReads, items)
from cniupgrade.seams.plugin import MigrationError

WORKLOAD_KINDS = ((DEPLOYMENTS, "Deployment"), (STATEFULSETS, "StatefulSet"), (DAEMONSETS, "DaemonSet"),
                  (REPLICASETS, "ReplicaSet"), (JOBS, "Job"), (CRONJOBS, "CronJob"))


class SpiderpoolMigrator:
    def __init__(self, spec: UpgradePlanSpec, plan_namespace: str, reads: ClusterReads, acting: ClusterAccess):
        self.spec, self.plan_namespace = spec, plan_namespace
        self.reads, self.writes, self.acting_reads = reads, acting, acting
        self.objects = ObjectMigrations(spec, reads, acting)

    def run(self, migration_id: str) -> str:
        handlers = {
            "spiderpool.endpoint-owner-type-pod": self.endpoint_owner_type_pod,
            "spiderpool.delete-init-pod": self.delete_init_pod,
            "spiderpool.storage-version-v2beta1": self.storage_version_v2beta1,
            "spiderpool.apply-crds": self.apply_crds,
            "spiderpool.add-auto-pool-labels": self.add_auto_pool_labels,
            "spiderpool.controller-max-surge-0": self.controller_max_surge_0,
            "spiderpool.rewrite-1.0-fields": self.objects.rewrite_1_0_fields,
            "spiderpool.create-default-objects": self.objects.create_default_objects,
        }
        if migration_id not in handlers:
            raise MigrationError(f"unknown migration {migration_id}")
        return handlers[migration_id]()

    def _served_version(self) -> str:
        version = served_version(self.reads, "spiderippools")
        if version is None:
            raise MigrationError("no served version of spiderippools")
        return version

    def endpoint_owner_type_pod(self) -> str:
        endpoints = spider("spiderendpoints", self._served_version())
        fixed = 0
        for endpoint in items(self.reads, endpoints):
            if (endpoint.get("status") or {}).get("ownerControllerType") != "None":
                continue
            meta = endpoint["metadata"]
            # No status subresource on this CRD: status is part of the object. The resourceVersion makes a
            # concurrent change by Spiderpool fail (409) instead of being overwritten.
            self.writes.patch(endpoints, meta["name"], meta["namespace"], {
                "metadata": {"resourceVersion": meta["resourceVersion"]}, "status": {"ownerControllerType": "Pod"}})
            fixed += 1
        return f"{fixed} SpiderEndpoint(s) now have ownerControllerType Pod"

    def delete_init_pod(self) -> str:
        pod = self.reads.get(PODS, facts.INIT_POD, self.spec.namespace)
        if pod is None:
            return "no spiderpool-init Pod"
        if pod["metadata"].get("ownerReferences"):
            return "spiderpool-init belongs to a Job: left alone"
        self.writes.delete(PODS, facts.INIT_POD, self.spec.namespace, uid=pod["metadata"]["uid"])
        return f"deleted Pod {self.spec.namespace}/{facts.INIT_POD}"

    def storage_version_v2beta1(self) -> str:
        """< 0.4.0: objects stored as v1 move to v2beta1 before the target's v2beta1-only CRDs are applied."""
        return StorageVersionMove(self.reads, self.writes).run()

    def apply_crds(self) -> str:
        name = self.spec.spiderpool.crd_source_config_map
        crds = vetted_crds(self.acting_reads, name, self.plan_namespace, facts.GROUP, self.spec.namespace,
                           "spec.spiderpool.crdSourceConfigMap")
        if lost := self.objects.would_lose(crds):  # whatever order the migrations came in
            raise MigrationError(f"these CRDs would prune fields not yet recorded from {'; '.join(lost)}: "
                                 f"spiderpool.rewrite-1.0-fields must run first")
        for doc in crds:
            self.writes.apply(CRDS, doc)
        return f"applied CRDs {', '.join(d['metadata']['name'] for d in crds)} from ConfigMap {name}"

    def _workloads(self) -> list[dict]:
        return [{"kind": kind, "metadata": w["metadata"]} for resource, kind in WORKLOAD_KINDS
                for w in items(self.reads, resource)]

    def add_auto_pool_labels(self) -> str:
        pools = spider("spiderippools", self._served_version())
        workloads = None
        patched, failures = [], []
        for pool in items(self.reads, pools):
            labels = pool["metadata"].get("labels") or {}
            if facts.OLD_AUTO_POOL_LABEL not in labels or all(k in labels for k in facts.AUTO_POOL_LABELS):
                continue
            if workloads is None:  # the first pool to change: its webhook needs the controller
                self.objects.require_controller_ready()
                workloads = self._workloads()
            try:
                new = new_auto_pool_labels(pool, workloads)
            except CannotDerive as exc:
                failures.append(str(exc))
                continue
            self.writes.patch(pools, pool["metadata"]["name"], None, {"metadata": {"labels": new}})
            patched.append(pool["metadata"]["name"])
        if failures:
            raise MigrationError(f"labelled {len(patched)} pool(s); cannot derive: {'; '.join(failures)}")
        return f"labelled auto pool(s) {', '.join(patched) or '(none left)'}"

    def controller_max_surge_0(self) -> str:
        self.writes.patch(DEPLOYMENTS, facts.CONTROLLER_DEPLOYMENT, self.spec.namespace, {
            "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}}})
        return "spiderpool-controller now updates one replica at a time without a surge pod (maxSurge 0)"
