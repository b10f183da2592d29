"""A plugin registered from outside the operator's tree (tests/e2e/toy_plugin.py: its own name, one check, one
migration), no core file touched: the CRD generated with it admits its plans, `cniupgrade plan` previews one,
and the operator, told to load it, checks, migrates and rolls its DaemonSet on the real control plane."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from kubernetes import client

from localcluster.processes import free_port
from localcluster.waiting import wait_for
from tests.e2e.conftest import E2E_NODES, REPO
from tests.e2e.kit import ROLL_DAEMONSET_RULES, PlanAccount, plan_events
from tests.e2e.operator_process import OperatorProcess

TOY = "tests.e2e.toy_plugin"
IMAGE = "example.com/toy/toy-agent:{}"
LABELS = {"app": "toy-agent"}


def cniupgrade(*args: str, kubeconfig=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "CNIUPGRADE_PLUGIN_MODULES": TOY, **({"KUBECONFIG": str(kubeconfig)} if kubeconfig else {})}
    return subprocess.run([sys.executable, "-m", "cniupgrade", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120)


@pytest.fixture
def toy_crd(kubectl):
    """The CRD generated with the toy registered (its name joins spec.plugin's enum); the shipped one after."""
    generated = cniupgrade("crd")
    assert generated.returncode == 0, generated.stderr
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=generated.stdout)
    yield
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds" / "upgradeplan.yaml"))


@pytest.fixture
def toy_operator(operator, operator_rbac, operator_policy, tmp_path):
    """The operator told to load the toy (the session's own steps aside meanwhile)."""
    operator.stop()
    process = OperatorProcess(operator_rbac, tmp_path / "toy-operator.log", free_port(),
                              env={**operator_policy, "CNIUPGRADE_PLUGIN_MODULES": TOY})
    process.start()
    yield process
    process.stop()


def install_toy(api: client.ApiClient, namespace: str) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    # What the toy reads (its ConfigMap) the operator may read only where it is granted (docs/security.md).
    client.RbacAuthorizationV1Api(api).create_namespaced_role_binding(namespace, {
        "metadata": {"name": "cniupgrade-toy-reads"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "cniupgrade-helm-release-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "cniupgrade", "namespace": "cniupgrade-system"}]})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "toy-ready"}, "data": {"ready": "false"}})
    apps.create_namespaced_daemon_set(namespace, {
        "metadata": {"name": "toy-agent"},
        "spec": {"selector": {"matchLabels": LABELS}, "template": {"metadata": {"labels": LABELS}, "spec": {
            "tolerations": [{"operator": "Exists"}], "containers": [{"name": "agent", "image": IMAGE.format("v1")}]}}}})
    wait_for(lambda: (apps.read_namespaced_daemon_set("toy-agent", namespace).status.number_ready or 0) == E2E_NODES,
             60, "the toy agent everywhere")


def test_a_plugin_from_outside_the_tree_previews_migrates_and_rolls(admin_api, namespace, toy_crd, toy_operator,
                                                                     plans, cluster, tmp_path):
    install_toy(admin_api, namespace)
    manifest = tmp_path / "toy.yaml"
    manifest.write_text(f"apiVersion: cniupgrade.io/v1alpha1\nkind: UpgradePlan\nmetadata: {{name: toy, namespace: "
                        f"{namespace}}}\nspec: {{plugin: toy, targetVersion: v2}}\n")
    preview = cniupgrade("plan", "-f", str(manifest), kubeconfig=cluster.kubeconfig)
    assert preview.returncode == 0, preview.stderr  # its failed check has a migration: not blocked
    assert "UpgradePlan toy: toy v1 -> v2" in preview.stdout
    assert "[Failed ] Error   toy.ready: ConfigMap toy-ready does not say ready" in preview.stdout

    # Its migration writes a ConfigMap, which the operator itself may not: the plan acts as an account that may.
    rules = [*ROLL_DAEMONSET_RULES, {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "patch"]}]
    with PlanAccount(admin_api, namespace, "toy-upgrader", rules):
        plans.custom.create_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans", {
            "apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan", "metadata": {"name": "toy"},
            "spec": {"plugin": "toy", "targetVersion": "v2", "serviceAccountName": "toy-upgrader",
                     "rollout": {"maxUnavailable": 8}}})
        status = plans.wait_phase("Succeeded", "Failed", name="toy", timeout=120)
    assert status["phase"] == "Succeeded", status.get("conditions")
    assert status["fromVersion"] == "v1" and status["counts"]["upgraded"] == E2E_NODES
    assert {c["id"]: c["result"] for c in status["checks"]}["toy.ready"] == "Passed"  # after its migration
    marker = client.CoreV1Api(admin_api).read_namespaced_config_map("toy-ready", namespace)
    assert marker.data == {"ready": "true"}
    events = plan_events(admin_api, namespace, "MigrationApplied", name="toy")
    assert any("toy.mark-ready: ConfigMap toy-ready marked ready" in e.message for e in events)
    ds = client.AppsV1Api(admin_api).read_namespaced_daemon_set("toy-agent", namespace)
    assert ds.spec.template.spec.containers[0].image == IMAGE.format("v2")
