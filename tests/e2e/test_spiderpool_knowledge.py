"""Spiderpool object knowledge on the real API server (issue 23): fields 1.0.0's CRDs rename or drop are recorded
before the CRDs change and carried after; the defaults a pre-0.6.0 install never got are created once the CRDs
exist; the 1.0.0 cleanup hook is warned about; migrations that change pools wait for a Ready controller."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from kubernetes import client

from cniupgrade.plugins.spiderpool.objects_1_0 import RECORD_ANNOTATION
from localcluster.waiting import wait_for
from simulated.spiderpool import knowledge
from simulated.spiderpool.seed import GROUP, HERE, VERSION
from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import ROLL_DAEMONSET_RULES, PlanAccount

RULES = [*ROLL_DAEMONSET_RULES,
         {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]},
         {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
         {"apiGroups": [GROUP], "resources": ["spidermultusconfigs"], "verbs": ["get", "patch", "create"]}]
CLUSTER_RULES = [
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["create", "patch"]},
    {"apiGroups": [GROUP], "resources": ["spiderippools", "spidersubnets", "spidercoordinators",
                                         "spidermultusconfigs"], "verbs": ["get", "patch", "create"]}]


@pytest.fixture
def spider_crds(admin_api):
    """Each test installs the CRDs it needs; none is left for the next test file."""
    yield
    knowledge.reset_crds(admin_api)


def crd_source(admin_api, namespace: str, file: str) -> str:
    client.CoreV1Api(admin_api).create_namespaced_config_map(namespace, {
        "metadata": {"name": "target-crds"}, "data": {"crds.yaml": (HERE / file).read_text()}})
    return "target-crds"


def start_plan(plans, namespace: str, target: str, source: str) -> None:
    plans.custom.create_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans", {
        "apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan", "metadata": {"name": "upgrade"},
        "spec": {"plugin": "spiderpool", "targetVersion": target, "namespace": namespace,
                 "serviceAccountName": "upgrader", "spiderpool": {"crdSourceConfigMap": source},
                 "rollout": {"maxUnavailable": 8}}})


def events_in_order(admin_api, namespace: str) -> list[tuple[str, str]]:
    found = client.CoreV1Api(admin_api).list_namespaced_event(namespace).items
    return [(e.reason, e.message) for e in sorted(found, key=lambda e: int(e.metadata.resource_version))]


def wait_succeeded(admin_api, namespace: str, plans) -> list[tuple[str, str]]:
    """The plan's end (Succeeded), and the namespace's Events in order; on failure the Events say why."""
    try:
        status = plans.wait_phase("Succeeded", "Failed", "Preflight", timeout=180)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; events: {events_in_order(admin_api, namespace)[-8:]}") from None
    ordered = events_in_order(admin_api, namespace)
    assert status["phase"] == "Succeeded", (status.get("conditions"), ordered[-8:])
    return ordered


def preview(cluster, tmp_path, namespace: str, target: str) -> str:
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"apiVersion: cniupgrade.io/v1alpha1\nkind: UpgradePlan\nmetadata: {{name: up, namespace: "
                    f"{namespace}}}\nspec: {{plugin: spiderpool, targetVersion: {target}, namespace: {namespace}}}\n")
    out = subprocess.run([sys.executable, "-m", "cniupgrade", "plan", "-f", str(plan)], capture_output=True, text=True,
                         env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}, timeout=60)
    return out.stdout + out.stderr


def test_fields_1_0_renames_and_drops_are_recorded_before_the_crds_change_and_carried_after(
        admin_api, namespace, spider_crds, operator, plans, cluster, tmp_path):
    seeded = knowledge.seed_0_9(admin_api, namespace, E2E_NODES)
    custom = client.CustomObjectsApi(admin_api)
    pool_name, subnet_name = (seeded[p]["metadata"]["name"] for p in ("spiderippools", "spidersubnets"))

    # Why two steps: under the 0.9 CRD a 1.0.0 name is pruned the moment it is written
    custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, "spidermultusconfigs", "rdma",
                                          {"spec": {"sriov": {"rdmaIsolation": True}}})
    assert "rdmaIsolation" not in custom.get_namespaced_custom_object(
        GROUP, VERSION, namespace, "spidermultusconfigs", "rdma")["spec"]["sriov"]

    printed = preview(cluster, tmp_path, namespace, "1.0.0")
    assert "spiderpool.fields-1.0.0" in printed and f"spidermultusconfigs {namespace}/rdma" in printed
    assert "Warning spiderpool.cleanup-hook: spiderpoolController.cleanup.enable is true" in printed

    source = crd_source(admin_api, namespace, "target-crds-1.0.yaml")
    with PlanAccount(admin_api, namespace, "upgrader", RULES, CLUSTER_RULES):
        start_plan(plans, namespace, "1.0.0", source)
        ordered = wait_succeeded(admin_api, namespace, plans)

    smc = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "spidermultusconfigs", "rdma")
    assert smc["spec"]["sriov"] == {"resourceName": "r", "rdmaIsolation": True}  # renamed; the old name pruned
    assert smc["spec"]["ibsriov"] == {"resourceName": "ib", "enableIbKubernetes": True}
    pool = custom.get_cluster_custom_object(GROUP, VERSION, "spiderippools", pool_name)
    assert "vlan" not in pool["spec"]  # dropped by the 1.0.0 schema: the record says what it was
    assert json.loads(pool["metadata"]["annotations"][RECORD_ANNOTATION]) == {"spec.vlan": 20}
    subnet = custom.get_cluster_custom_object(GROUP, VERSION, "spidersubnets", subnet_name)
    assert json.loads(subnet["metadata"]["annotations"][RECORD_ANNOTATION]) == {"spec.vlan": 20}
    coordinator = custom.get_cluster_custom_object(GROUP, VERSION, "spidercoordinators", "default")
    assert json.loads(coordinator["metadata"]["annotations"][RECORD_ANNOTATION]) == {
        "spec.detectGateway": True, "spec.hostRPFilter": 0}
    assert "detectGateway" not in coordinator["spec"]

    # record, then the CRDs, then the renamed fields, all before the controller is touched
    applied = [m.split(":")[0] for r, m in ordered if r == "MigrationApplied"]
    assert applied == ["spiderpool.rewrite-1.0-fields", "spiderpool.apply-crds", "spiderpool.rewrite-1.0-fields"]
    reasons = [r for r, _ in ordered]
    assert max(i for i, r in enumerate(reasons) if r == "MigrationApplied") < reasons.index("ControlPlaneUpdating")
    assert "MigrationFailed" not in reasons


def test_a_migration_that_changes_pools_fails_clearly_while_the_controller_is_down(
        admin_api, namespace, spider_crds, operator, plans):
    seeded = knowledge.seed_0_9(admin_api, namespace, E2E_NODES)
    apps, custom = client.AppsV1Api(admin_api), client.CustomObjectsApi(admin_api)
    apps.patch_namespaced_deployment_scale("spiderpool-controller", namespace, {"spec": {"replicas": 0}})
    wait_for(lambda: not apps.read_namespaced_deployment("spiderpool-controller", namespace).status.ready_replicas,
             60, "spiderpool-controller down")
    source = crd_source(admin_api, namespace, "target-crds-1.0.yaml")
    with PlanAccount(admin_api, namespace, "upgrader", RULES, CLUSTER_RULES):
        start_plan(plans, namespace, "1.0.0", source)
        failed = wait_for(lambda: [m for r, m in events_in_order(admin_api, namespace) if r == "MigrationFailed"],
                          90, "MigrationFailed")
    assert failed[0].startswith("spiderpool.rewrite-1.0-fields: spiderpool-controller is not Ready")
    assert f"Deployment {namespace}/spiderpool-controller has 0/0 Ready replicas" in failed[0]
    # nothing was changed: no record, and the CRDs were not replaced under the unrecorded fields
    pool = custom.get_cluster_custom_object(GROUP, VERSION, "spiderippools", seeded["spiderippools"]["metadata"]["name"])
    assert pool["spec"]["vlan"] == 20 and RECORD_ANNOTATION not in (pool["metadata"].get("annotations") or {})
    assert "MigrationApplied" not in [r for r, _ in events_in_order(admin_api, namespace)]
    plans.delete()


def test_a_pre_0_6_install_gets_the_default_coordinator_and_multus_config_after_the_crds(
        admin_api, namespace, spider_crds, operator, plans):
    knowledge.seed_0_5(admin_api, namespace, E2E_NODES, {"multus": {"multusCNI": {"defaultCniCRName": "calico-net"}}})
    source = crd_source(admin_api, namespace, "target-crds.yaml")
    with PlanAccount(admin_api, namespace, "upgrader", RULES, CLUSTER_RULES):
        start_plan(plans, namespace, "0.9.5", source)
        ordered = wait_succeeded(admin_api, namespace, plans)
    custom = client.CustomObjectsApi(admin_api)
    coordinator = custom.get_cluster_custom_object(GROUP, VERSION, "spidercoordinators", "default")
    assert coordinator["spec"]["mode"] == "auto" and coordinator["spec"]["tunePodRoutes"] is True
    multus = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "spidermultusconfigs", "calico-net")
    assert multus["spec"] == {"cniType": "custom", "enableCoordinator": False}
    applied = [m.split(":")[0] for r, m in ordered if r == "MigrationApplied"]
    assert applied.index("spiderpool.apply-crds") < applied.index("spiderpool.create-default-objects")
    checks = {c["id"]: c for c in plans.status()["checks"]}
    assert checks["spiderpool.default-objects"]["result"] == "Passed"  # the checks ran again after the migrations
