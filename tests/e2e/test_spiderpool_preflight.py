"""Spiderpool's upgrade notes, checked against a seeded cluster before anything changes."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from kubernetes import client

from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import ROLL_DAEMONSET_RULES, PlanAccount
from simulated.spiderpool import seed

SECURITY_CHECKS = ["security.namespace-boundary", "security.image-policy", "security.cluster-scope"]
EXPECTED_ORDER = [*SECURITY_CHECKS, "generic.downgrade", "spiderpool.skip-0.9.0", "spiderpool.auto-pool-labels",
                  "spiderpool.endpoint-owner-type", "spiderpool.stored-versions", "spiderpool.fields-1.0.0",
                  "spiderpool.missing-crds", "spiderpool.multus-uninstall", "spiderpool.init-pod",
                  "spiderpool.coordinator-txqueuelen", "spiderpool.default-objects", "spiderpool.duplicate-ips",
                  "spiderpool.ip-headroom", "spiderpool.ip-leaks", "spiderpool.orphan-endpoints",
                  "spiderpool.renamed-values", "spiderpool.cleanup-hook", "spiderpool.controller-replicas",
                  "spiderpool.host-ports", "spiderpool.helm-release-behind"]


@pytest.fixture
def seeded(admin_api, namespace):
    expected = seed.seed(admin_api, namespace, E2E_NODES)
    yield expected
    seed.remove(admin_api, namespace)


def preview(cluster, tmp_path, namespace: str, target: str) -> str:
    """What `cniupgrade plan` prints for a Spiderpool plan to `target`."""
    plan = tmp_path / f"plan-{target}.yaml"
    plan.write_text(f"apiVersion: cniupgrade.io/v1alpha1\nkind: UpgradePlan\nmetadata: {{name: up, namespace: "
                    f"{namespace}}}\nspec: {{plugin: spiderpool, targetVersion: {target}, namespace: {namespace}}}\n")
    out = subprocess.run([sys.executable, "-m", "cniupgrade", "plan", "-f", str(plan)], capture_output=True, text=True,
                         env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}, timeout=60)
    assert out.returncode == (1 if "[Failed ] Error" in out.stdout else 0), out.stderr  # blocked: 1
    return out.stdout


# What a Spiderpool plan's account needs (docs/security.md): the agent and controller, the CRD source, the init
# pod; and, cluster-wide, what the migrations change.
SPIDERPOOL_RULES = [*ROLL_DAEMONSET_RULES,
                    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]},
                    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]
SPIDERPOOL_CLUSTER_RULES = [
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["create", "patch"]},
    {"apiGroups": [seed.GROUP], "resources": ["spiderippools", "spiderendpoints"], "verbs": ["patch"]},
    {"apiGroups": [seed.GROUP], "resources": ["spidercoordinators", "spidermultusconfigs"],
     "verbs": ["get", "list", "patch", "create"]}]


def spiderpool_plan(plans, **spec):
    return plans.create(plugin="spiderpool", target="0.9.5", daemonSet=None, **spec)


def test_a_0_3_5_to_0_9_5_plan_reports_every_note_in_order_and_changes_nothing(
        admin_api, namespace, seeded, operator, plans):
    plans.custom.create_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans", {
        "apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan", "metadata": {"name": "upgrade"},
        "spec": {"plugin": "spiderpool", "targetVersion": "0.9.5", "namespace": namespace}})
    status = plans.wait_phase("Preflight", timeout=60)
    checks = {c["id"]: c for c in status["checks"]}
    assert [c["id"] for c in status["checks"]] == EXPECTED_ORDER
    assert status["fromVersion"] == "0.3.5"
    failed = {i for i, c in checks.items() if c["result"] == "Failed"}
    assert failed == set(EXPECTED_ORDER) - {"security.namespace-boundary", "security.image-policy",
                                            "generic.downgrade", "spiderpool.skip-0.9.0",
                                            "spiderpool.stored-versions", "spiderpool.fields-1.0.0",
                                            "spiderpool.cleanup-hook", "spiderpool.helm-release-behind",
                                            "spiderpool.renamed-values"}  # its keys change at 1.0.0 only
    # its migrations reach beyond the namespace of a plan that is neither trusted nor acting as an account
    # (the CRDs are no migration here: without spec.spiderpool.crdSourceConfigMap there is nothing to apply)
    assert checks["security.cluster-scope"]["objects"] == [
        "migration spiderpool.add-auto-pool-labels: SpiderIPPools (cluster-scoped)",
        "migration spiderpool.endpoint-owner-type-pod: SpiderEndpoints in every namespace",
        "migration spiderpool.create-default-objects: the default SpiderCoordinator (cluster-scoped)"]
    assert "spec.serviceAccountName" in checks["security.cluster-scope"]["remediation"]
    assert checks["spiderpool.auto-pool-labels"]["objects"] == [seeded["old_pool"]]
    assert checks["spiderpool.endpoint-owner-type"]["objects"] == [seeded["endpoint_none"]]
    assert checks["spiderpool.missing-crds"]["objects"] == ["spidermultusconfigs.spiderpool.spidernet.io"]
    assert checks["spiderpool.init-pod"]["objects"] == [f"{namespace}/spiderpool-init"]
    assert f"kubectl -n {namespace} delete pod spiderpool-init" in checks["spiderpool.init-pod"]["remediation"]
    assert checks["spiderpool.duplicate-ips"]["objects"] == list(seeded["duplicate_pods"])
    assert "does not repair" in checks["spiderpool.duplicate-ips"]["message"]
    # IPAM health: web-0's restart needs an IP from its pool, which has none free; gone-0's IP leaked; the
    # SpiderEndpoints of web-0 and web-9 outlived their pods (db-0's is a StatefulSet's, kept on purpose)
    headroom = checks["spiderpool.ip-headroom"]
    assert f"{seeded['full_pool']} (0 free, 1 needed)" in headroom["message"]
    assert headroom["objects"][0] == f"{seeded['full_pool']}: 1 total, 1 allocated, 0 free, 1 needed"
    assert checks["spiderpool.ip-leaks"]["objects"] == [seeded["leak"]]
    assert checks["spiderpool.orphan-endpoints"]["objects"] == list(seeded["orphan_endpoints"])
    assert len(checks["spiderpool.host-ports"]["objects"]) == 1
    assert checks["spiderpool.host-ports"]["objects"][0].startswith(seeded["exporter"])
    assert "wrongly" not in checks["spiderpool.multus-uninstall"]["message"]

    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Stalled"]["status"] == "True" and conditions["PreflightPassed"]["status"] == "False"
    # nothing was changed
    ds = client.AppsV1Api(admin_api).read_namespaced_daemon_set("spiderpool-agent", namespace)
    assert ds.spec.template.spec.containers[0].image.endswith(":v0.3.5") and ds.spec.update_strategy.type == "RollingUpdate"
    assert client.CoreV1Api(admin_api).read_namespaced_pod("spiderpool-init", namespace)


def test_cniupgrade_plan_prints_the_same_findings(admin_api, namespace, seeded, cluster, tmp_path):
    printed = preview(cluster, tmp_path, namespace, "0.9.5")
    text = printed.split("checks (in the vendor's order):", 1)[1]
    positions = [text.index(f" {check_id}: ") for check_id in EXPECTED_ORDER]  # where each check's line names it
    assert positions == sorted(positions)  # in the vendor's order
    assert "0.3.5 -> 0.9.5" in printed and "would be: Preflight" in printed and seeded["old_pool"] in text
    table = printed.split("IP headroom for restarts (tightest first):\n", 1)[1]
    assert table.startswith(f"    {seeded['full_pool']}: 1 total, 1 allocated, 0 free, 1 needed\n")
    assert "after the upgrade: helm release spiderpool still records Spiderpool 0.3.5: helm upgrade spiderpool " \
           f"spiderpool/spiderpool -n {namespace} --version 0.9.5" in text

    # A rollout that stopped half-way: the template names 0.9.5, the pods still run 0.3.5. The notes apply from 0.3.5.
    apps = client.AppsV1Api(admin_api)
    apps.patch_namespaced_daemon_set("spiderpool-agent", namespace, {"spec": {
        "updateStrategy": {"type": "OnDelete", "rollingUpdate": None}, "template": {"spec": {"containers": [
            {"name": "spiderpool-agent", "image": seed.IMAGE.format("agent").replace("v0.3.5", "v0.9.5")}]}}}})
    assert "spiderpool 0.3.5 -> 1.0.0" in preview(cluster, tmp_path, namespace, "1.0.0")


def test_migrations_fix_every_note_then_the_agent_rolls(admin_api, namespace, seeded, operator, plans, cluster,
                                                       tmp_path):
    core, apps = client.CoreV1Api(admin_api), client.AppsV1Api(admin_api)
    custom = client.CustomObjectsApi(admin_api)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "spiderpool-0-9-5-crds"},
                                                  "data": {"crds.yaml": (seed.HERE / "target-crds.yaml").read_text()}})
    core.delete_namespaced_pod("node-exporter", namespace)  # the host-port clash is for people to resolve
    # The plan's namespace is not trusted with cluster-wide changes: they are made as its account (docs/security.md)
    with PlanAccount(admin_api, namespace, "spiderpool-upgrader", SPIDERPOOL_RULES, SPIDERPOOL_CLUSTER_RULES):
        try:
            plans.custom.create_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans", {
                "apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan", "metadata": {"name": "upgrade"},
                "spec": {"plugin": "spiderpool", "targetVersion": "0.9.5", "namespace": namespace,
                         "serviceAccountName": "spiderpool-upgrader",
                         "spiderpool": {"crdSourceConfigMap": "spiderpool-0-9-5-crds"},
                         "rollout": {"maxUnavailable": 8, "canary": {"count": 1}}}})
            status = plans.wait_phase("Succeeded", "Failed", "Preflight", timeout=120)
            assert status["phase"] == "Succeeded", status.get("conditions")
        finally:
            reasons = [e.reason for e in client.CoreV1Api(admin_api).list_namespaced_event(namespace).items]
    assert reasons.count("MigrationApplied") >= 5 and "MigrationFailed" not in reasons

    endpoint = custom.get_namespaced_custom_object(seed.GROUP, seed.VERSION, namespace, "spiderendpoints", "web-0")
    assert endpoint["status"]["ownerControllerType"] == "Pod"
    pool = custom.get_cluster_custom_object(seed.GROUP, seed.VERSION, "spiderippools", seeded["old_pool"])
    labels = pool["metadata"]["labels"]
    assert labels["ipam.spidernet.io/owner-application-namespace"] == namespace
    assert labels["ipam.spidernet.io/owner-application-name"] == "web"
    assert labels["ipam.spidernet.io/ippool-cidr"] == "10-6-0-0-16"
    ext = client.ApiextensionsV1Api(admin_api)
    coordinator = json.loads(ext.read_custom_resource_definition("spidercoordinators.spiderpool.spidernet.io",
                                                                 _preload_content=False).data)
    schema = coordinator["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert "txQueueLen" in schema["properties"]["spec"]["properties"]
    assert ext.read_custom_resource_definition("spidermultusconfigs.spiderpool.spidernet.io")
    assert not [p for p in core.list_namespaced_pod(namespace).items if p.metadata.name == "spiderpool-init"]
    strategy = apps.read_namespaced_deployment("spiderpool-controller", namespace).spec.strategy.rolling_update
    assert strategy.max_surge == 0
    ds = apps.read_namespaced_daemon_set("spiderpool-agent", namespace)
    assert ds.spec.template.spec.containers[0].image == "ghcr.io/spidernet-io/spiderpool/spiderpool-agent:v0.9.5"
    controller = apps.read_namespaced_deployment("spiderpool-controller", namespace)
    assert controller.spec.template.spec.containers[0].image.endswith("spiderpool-controller:v0.9.5")
    # the vendor's order: migrations, then the controller, then the agent node by node
    ordered = [e.reason for e in sorted(client.CoreV1Api(admin_api).list_namespaced_event(namespace).items,
                                        key=lambda e: int(e.metadata.resource_version))]
    assert ordered.index("MigrationApplied") < ordered.index("ControlPlaneUpdating") < ordered.index("DaemonSetPrepared")
    checks = {c["id"]: c for c in plans.status()["checks"]}
    assert checks["spiderpool.duplicate-ips"]["result"] == "Failed"  # a warning: reported, not repaired
    # what the notes leave for after the upgrade is said when it succeeds
    follow_ups = sorted(e.message for e in core.list_namespaced_event(namespace).items if e.reason == "FollowUp")
    assert [m.split(":")[0] for m in follow_ups] == ["spiderpool.duplicate-ips", "spiderpool.helm-release-behind"]
    assert "--version 0.9.5" in follow_ups[1] and "2 follow-up(s) to do" in plans.condition("Ready")["message"]

    # The next plan starts from what runs (0.9.5), not from the helm release the upgrade left on 0.3.5, and says so.
    printed = preview(cluster, tmp_path, namespace, "1.0.0")
    assert "spiderpool 0.9.5 -> 1.0.0" in printed
    assert "[Failed ] Warning spiderpool.helm-release-behind: helm release spiderpool records Spiderpool 0.3.5, " \
           "but 0.9.5 runs" in printed


def test_with_migrations_disabled_the_findings_say_what_to_do_and_nothing_changes(
        admin_api, namespace, seeded, operator, plans):
    plans.custom.create_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans", {
        "apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan", "metadata": {"name": "upgrade"},
        "spec": {"plugin": "spiderpool", "targetVersion": "0.9.5", "namespace": namespace,
                 "migrations": {"enabled": False}, "preflight": {"skip": ["spiderpool.host-ports"]}}})
    status = plans.wait_phase("Preflight", timeout=60)
    checks = {c["id"]: c for c in status["checks"]}
    assert checks["spiderpool.host-ports"]["result"] == "Skipped"
    blocked = plans.condition("Ready")["message"]
    for check_id in ("spiderpool.auto-pool-labels", "spiderpool.endpoint-owner-type", "spiderpool.init-pod"):
        assert check_id in blocked and checks[check_id]["remediation"]
    assert "kubectl" in checks["spiderpool.endpoint-owner-type"]["remediation"]
    endpoint = client.CustomObjectsApi(admin_api).get_namespaced_custom_object(
        seed.GROUP, seed.VERSION, namespace, "spiderendpoints", "web-0")
    assert endpoint["status"]["ownerControllerType"] == "None"
