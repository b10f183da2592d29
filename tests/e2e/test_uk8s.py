"""UK8S cni-vpc: one node first, then batches; pods that predate their node's upgrade are reported and restarted;
tags in the vendor's order (date tags before 1.0.0); crossing 2.0.0 (breaking) waits for approval and installs
the PodNetworking CRD before any agent is replaced."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import ROLL_DAEMONSET_RULES, PlanAccount, plan_events
from tests.e2e.recorder import PodRecorder
from localcluster.waiting import wait_for

IMAGE = "uhub.service.ucloud.cn/uk8s/cni-vpc-node:{}"
LABELS = {"app": "cni-vpc-node"}


def install_cni_vpc(admin_api, namespace, version: str = "1.2.3"):
    apps = client.AppsV1Api(admin_api)
    apps.create_namespaced_daemon_set(namespace, {
        "metadata": {"name": "cni-vpc-node"},
        "spec": {"selector": {"matchLabels": LABELS}, "template": {"metadata": {"labels": LABELS}, "spec": {
            "hostNetwork": True, "tolerations": [{"operator": "Exists"}],
            "containers": [{"name": "cni-vpc-node", "image": IMAGE.format(version)}]}}}})
    apps.create_namespaced_deployment(namespace, {
        "metadata": {"name": "web"},
        "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                     "containers": [{"name": "web", "image": "example.com/web:1"}]}}}})
    wait_for(lambda: (apps.read_namespaced_daemon_set("cni-vpc-node", namespace).status.number_ready or 0) == E2E_NODES
             and (apps.read_namespaced_deployment("web", namespace).status.ready_replicas or 0) == 6, 60,
             "cni-vpc-node everywhere and web ready")


def plan_manifest(namespace, account: str | None = None, target: str = "1.3.0", **uk8s) -> dict:
    return {"apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan",
            "metadata": {"name": "upgrade", "namespace": namespace},
            "spec": {"plugin": "uk8s-cni-vpc", "targetVersion": target, "namespace": namespace,
                     "rollout": {"maxUnavailable": 6}, "uk8s": uk8s,
                     **({"serviceAccountName": account} if account else {})}}


def create_plan(plans, namespace, account: str | None = None, target: str = "1.3.0", **uk8s):
    plans.custom.create_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans",
                                                 plan_manifest(namespace, account, target, **uk8s))


# Restarting old pods' workloads reaches beyond the plugin's namespace, so a plan in an untrusted namespace does
# it as its account, which may restart the workloads of this namespace only.
RESTARTER_RULES = [*ROLL_DAEMONSET_RULES,
                   {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": ["patch"]}]


def test_one_node_first_then_batches_and_old_pods_reported_and_restarted(admin_api, namespace, operator, plans):
    install_cni_vpc(admin_api, namespace)
    apps = client.AppsV1Api(admin_api)
    with PodRecorder(admin_api, namespace, "app=cni-vpc-node") as recorder, \
            PlanAccount(admin_api, namespace, "cni-vpc-upgrader", RESTARTER_RULES):
        create_plan(plans, namespace, "cni-vpc-upgrader", maintainedKubernetesMinors=["1.36"], restartOldPods=True)
        status = wait_for(lambda: (s := plans.status()).get("phase") == "Succeeded" and s.get("oldPods") is not None
                          and s, 120, "the upgrade and its old-pods report")
    batches = status["plan"]["batches"]
    assert len(batches[0]) == 1 and all(len(b) <= 6 for b in batches[1:])  # one node first, then batches
    order = recorder.deletion_order()
    assert order[0] == batches[0][0] and len(set(order)) == E2E_NODES
    assert status["fromVersion"] == "1.2.3"
    ds = apps.read_namespaced_daemon_set("cni-vpc-node", namespace)
    assert ds.spec.template.spec.containers[0].image == IMAGE.format("1.3.0")
    assert status["oldPodsCount"] >= 6
    assert f"Deployment/{namespace}/web" in status["restartedWorkloads"]
    web = apps.read_namespaced_deployment("web", namespace)
    assert "kubectl.kubernetes.io/restartedAt" in (web.spec.template.metadata.annotations or {})
    checks = {c["id"]: c["result"] for c in status["checks"]}
    assert checks == {"security.namespace-boundary": "Passed", "security.image-policy": "Passed",
                      "security.cluster-scope": "Passed", "generic.downgrade": "Passed",
                      "uk8s.target-version": "Passed", "uk8s.lts-only": "Passed", "uk8s.node-downgrade": "Passed",
                      "uk8s.nodes-at-target": "Passed", "uk8s.unreadable-versions": "Passed",
                      "uk8s.ip-headroom": "Passed"}  # no ipamd here: the restart's IPs come from the VPC
    events = plan_events(admin_api, namespace, "OldPodsFound")
    assert any(e.reason == "OldPodsFound" and "restarted" in e.message for e in events)


# The Ipamd kind as ucloud/uk8s-cni-vpc defines it (spec.node, status.current/low/high/status), schema left open.
IPAMD_CRD = {"metadata": {"name": "ipamds.vpc.uk8s.ucloud.cn"}, "spec": {
    "group": "vpc.uk8s.ucloud.cn", "scope": "Namespaced",
    "names": {"plural": "ipamds", "singular": "ipamd", "kind": "Ipamd", "listKind": "IpamdList"},
    "versions": [{"name": "v1beta1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
        "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


@pytest.fixture
def ipamd_kind(admin_api):
    ext = client.ApiextensionsV1Api(admin_api)
    ext.create_custom_resource_definition(IPAMD_CRD)
    custom = client.CustomObjectsApi(admin_api)

    def served() -> bool:
        try:
            return custom.list_cluster_custom_object("vpc.uk8s.ucloud.cn", "v1beta1", "ipamds") is not None
        except ApiException:
            return False
    wait_for(served, 30, "the Ipamd kind served")
    yield custom
    delete_crd(admin_api, IPAMD_CRD["metadata"]["name"])


def set_ipamd(custom, namespace: str, node: str, current: int, state: str) -> None:
    body = {"apiVersion": "vpc.uk8s.ucloud.cn/v1beta1", "kind": "Ipamd", "metadata": {"name": node},
            "spec": {"node": node, "addr": "10.0.0.1:7312"},
            "status": {"current": current, "low": 3, "high": 5, "status": state}}
    try:
        custom.create_namespaced_custom_object("vpc.uk8s.ucloud.cn", "v1beta1", namespace, "ipamds", body)
    except ApiException as exc:
        if exc.status != 409:
            raise
        custom.patch_namespaced_custom_object("vpc.uk8s.ucloud.cn", "v1beta1", namespace, "ipamds", node,
                                              {"status": body["status"]})


def test_the_restart_of_old_pods_waits_for_free_ips_in_ipamds_pools(admin_api, namespace, operator, plans,
                                                                    ipamd_kind):
    install_cni_vpc(admin_api, namespace)  # web: 6 replicas, maxSurge 25% -> its restart runs 2 new pods at once
    apps = client.AppsV1Api(admin_api)
    set_ipamd(ipamd_kind, namespace, "node-0000", 0, "dry")
    set_ipamd(ipamd_kind, namespace, "node-0001", 1, "hungry")
    with PlanAccount(admin_api, namespace, "cni-vpc-upgrader", RESTARTER_RULES):
        create_plan(plans, namespace, "cni-vpc-upgrader", maintainedKubernetesMinors=["1.36"], restartOldPods=True)
        # held: the agents are upgraded, the pools hold 1 free IP for the 2 the restart needs
        status = wait_for(lambda: (s := plans.status()).get("restartHeld") and s, 120, "the restart held")
        assert status["phase"] == "Succeeded" and status.get("oldPods") is None
        assert "needs 2 new IP(s)" in status["restartHeld"] and "hold 1 free" in status["restartHeld"]
        assert "node-0000: 0 free (low 3, high 5) dry" in status["restartHeld"]
        headroom = next(c for c in status["checks"] if c["id"] == "uk8s.ip-headroom")
        assert headroom["result"] == "Failed" and headroom["severity"] == "Warning"  # said before the roll too
        # said once per numbers: other tests' namespaces being deleted meanwhile may change them (said again then)
        held = [e for e in plan_events(admin_api, namespace, "RestartHeld") if e.reason == "RestartHeld"]
        assert {e.type for e in held} == {"Warning"} and len({e.message for e in held}) == len(held)
        web = apps.read_namespaced_deployment("web", namespace)
        assert "kubectl.kubernetes.io/restartedAt" not in (web.spec.template.metadata.annotations or {})
        time.sleep(12)  # re-checked meanwhile: still held, and said once
        assert plans.status().get("oldPods") is None
        held = [e for e in plan_events(admin_api, namespace, "RestartHeld") if e.reason == "RestartHeld"]
        assert len({e.message for e in held}) == len(held)

        # allowed: ipamd refilled a pool; the next check restarts the workload
        set_ipamd(ipamd_kind, namespace, "node-0001", 4, "normal")
        status = wait_for(lambda: (s := plans.status()).get("oldPods") is not None and s, 60, "the restart")
    assert status.get("restartHeld") is None and f"Deployment/{namespace}/web" in status["restartedWorkloads"]
    web = apps.read_namespaced_deployment("web", namespace)
    assert "kubectl.kubernetes.io/restartedAt" in (web.spec.template.metadata.annotations or {})


def test_an_unmaintained_kubernetes_may_only_move_to_lts(admin_api, namespace, operator, plans):
    install_cni_vpc(admin_api, namespace)
    create_plan(plans, namespace, maintainedKubernetesMinors=["1.30", "1.32", "1.34"])
    plans.wait_phase("Preflight", timeout=60)
    assert "uk8s.lts-only" in plans.condition("Ready")["message"]
    checks = {c["id"]: c for c in plans.status()["checks"]}
    assert "1.36" in checks["uk8s.lts-only"]["message"] and "-lts" in checks["uk8s.lts-only"]["remediation"]
    assert client.AppsV1Api(admin_api).read_namespaced_daemon_set(
        "cni-vpc-node", namespace).spec.template.spec.containers[0].image == IMAGE.format("1.2.3")


def agent_image(admin_api, namespace) -> str:
    return client.AppsV1Api(admin_api).read_namespaced_daemon_set(
        "cni-vpc-node", namespace).spec.template.spec.containers[0].image


def test_a_date_tag_upgrades_to_a_semantic_one(admin_api, namespace, operator, plans):
    """22.05.1 came before 1.0.0: moving to 1.3.0 is an upgrade, though 22 > 1 as numbers."""
    install_cni_vpc(admin_api, namespace, "22.05.1")
    with PodRecorder(admin_api, namespace, "app=cni-vpc-node") as recorder:
        create_plan(plans, namespace, maintainedKubernetesMinors=["1.36"])
        status = plans.wait_phase("Succeeded", timeout=120)
    assert status["fromVersion"] == "22.05.1"
    checks = {c["id"]: c for c in status["checks"]}
    assert checks["generic.downgrade"]["result"] == "Passed" and checks["uk8s.node-downgrade"]["result"] == "Passed"
    assert agent_image(admin_api, namespace) == IMAGE.format("1.3.0")
    assert len(set(recorder.deletion_order())) == E2E_NODES  # every node's agent was replaced


def test_a_semantic_tag_back_to_a_date_tag_is_a_downgrade(admin_api, namespace, operator, plans):
    install_cni_vpc(admin_api, namespace, "1.3.0")
    create_plan(plans, namespace, target="22.05.1", maintainedKubernetesMinors=["1.36"])
    plans.wait_phase("Preflight", timeout=60)
    assert "generic.downgrade" in plans.condition("Ready")["message"]
    checks = {c["id"]: c for c in plans.status()["checks"]}
    assert checks["generic.downgrade"]["result"] == "Failed"
    assert checks["generic.downgrade"]["message"] == "the target 22.05.1 is older than the installed 1.3.0"
    assert "allowDowngrade" in checks["generic.downgrade"]["remediation"]
    per_node = checks["uk8s.node-downgrade"]
    assert per_node["result"] == "Failed" and len(per_node["objects"]) == min(E2E_NODES, 20)
    assert agent_image(admin_api, namespace) == IMAGE.format("1.3.0")


# cni-vpc's deploy/podnetworking.yaml, as 2.0.0 ships it (trimmed to the fields the CNI reads).
PODNETWORKING_CRD = "podnetworkings.vpc.uk8s.ucloud.cn"
PODNETWORKING_MANIFEST = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": PODNETWORKING_CRD},
    "spec": {"group": "vpc.uk8s.ucloud.cn", "scope": "Cluster",
             "names": {"plural": "podnetworkings", "singular": "podnetworking", "kind": "PodNetworking",
                       "listKind": "PodNetworkingList"},
             "versions": [{"name": "v1beta1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "properties": {
                                   "subnetIds": {"type": "array", "items": {"type": "string"}},
                                   "securityGroupIds": {
                                       "type": "array", "maxItems": 5, "items": {"type": "string"},
                                       "x-kubernetes-validations": [{"rule": "self == oldSelf",
                                                                     "message": "securityGroupIds is immutable"}]}}},
                               "status": {"type": "object", "properties": {"status": {"type": "string"}}}}}}}]}}
# The plan's account: roll the agent, read the CRD source, and create or patch that one CRD only.
CRD_APPLIER_RULES = [*ROLL_DAEMONSET_RULES, {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]
CRD_APPLIER_CLUSTER_RULES = [
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["create"]},
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
     "resourceNames": [PODNETWORKING_CRD], "verbs": ["get", "patch"]}]


class CrdWatch:
    """When the CRD was first seen (time.monotonic(), the PodRecorder's clock), polled from outside."""

    def __init__(self, api, name: str):
        self.ext, self.name = client.ApiextensionsV1Api(api), name
        self.seen_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while self.seen_at is None and not self._stop.wait(0.05):
            try:
                self.ext.read_custom_resource_definition(self.name)
                self.seen_at = time.monotonic()
            except ApiException:
                pass

    def __enter__(self) -> CrdWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


def delete_crd(admin_api, name: str) -> None:
    ext = client.ApiextensionsV1Api(admin_api)
    try:
        ext.delete_custom_resource_definition(name)
    except ApiException as exc:
        if exc.status != 404:
            raise
    wait_for(lambda: name not in {c.metadata.name for c in ext.list_custom_resource_definition().items}, 60,
             f"CRD {name} gone")


def preview(cluster, tmp_path, manifest: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return subprocess.run([sys.executable, "-m", "cniupgrade", "plan", "-f", str(path)], capture_output=True,
                          text=True, env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}, timeout=120)


def test_crossing_2_0_0_waits_for_approval_and_installs_the_podnetworking_crd_first(
        admin_api, cluster, namespace, operator, plans, tmp_path):
    delete_crd(admin_api, PODNETWORKING_CRD)  # cluster-scoped: an earlier run's must not be found
    install_cni_vpc(admin_api, namespace, "1.2.0")
    client.CoreV1Api(admin_api).create_namespaced_config_map(namespace, {
        "metadata": {"name": "cni-vpc-crds"}, "data": {"podnetworking.yaml": yaml.safe_dump(PODNETWORKING_MANIFEST)}})
    options = {"maintainedKubernetesMinors": ["1.36"], "crdSourceConfigMap": "cni-vpc-crds"}
    try:
        with PlanAccount(admin_api, namespace, "cni-vpc-upgrader", CRD_APPLIER_RULES, CRD_APPLIER_CLUSTER_RULES):
            shown = preview(cluster, tmp_path, plan_manifest(namespace, "cni-vpc-upgrader", "2.0.1", **options))
            assert shown.returncode == 0, shown.stderr
            assert "would be: AwaitingApproval" in shown.stdout and "uk8s.breaking-2.0.0" in shown.stdout
            assert "2.0.0 is a breaking release" in shown.stdout, shown.stdout

            create_plan(plans, namespace, "cni-vpc-upgrader", "2.0.1", **options)  # requireApproval not set
            status = plans.wait_phase("AwaitingApproval", timeout=60)
            assert "uk8s.breaking-2.0.0" in plans.condition("Ready")["message"]
            checks = {c["id"]: c for c in status["checks"]}
            assert "breaking release" in checks["uk8s.breaking-2.0.0"]["message"]
            assert checks["uk8s.podnetworking-crd"]["migration"] == "uk8s.apply-podnetworking-crd"
            time.sleep(2)  # nothing changes while it waits
            assert PODNETWORKING_CRD not in {c.metadata.name for c in client.ApiextensionsV1Api(
                admin_api).list_custom_resource_definition().items}
            assert agent_image(admin_api, namespace) == IMAGE.format("1.2.0")

            with PodRecorder(admin_api, namespace, "app=cni-vpc-node") as recorder, \
                    CrdWatch(admin_api, PODNETWORKING_CRD) as crd:
                plans.patch_spec(approved=True)
                status = plans.wait_phase("Succeeded", "Failed", timeout=180)
            assert status["phase"] == "Succeeded", status
            first_replaced = min(recorder.first_deletion_at(n) for n in recorder.deletion_order())
            assert crd.seen_at is not None and crd.seen_at < first_replaced
            installed = client.ApiextensionsV1Api(admin_api).read_custom_resource_definition(PODNETWORKING_CRD)
            new_pods = client.CoreV1Api(admin_api).list_namespaced_pod(namespace, label_selector="app=cni-vpc-node")
            assert all(installed.metadata.creation_timestamp <= p.metadata.creation_timestamp for p in new_pods.items)
            assert len(set(recorder.deletion_order())) == E2E_NODES
            assert agent_image(admin_api, namespace) == IMAGE.format("2.0.1")
            assert {c["id"]: c["result"] for c in status["checks"]}["uk8s.podnetworking-crd"] == "Passed"
            events = plan_events(admin_api, namespace, "MigrationApplied")
            assert any("uk8s.apply-podnetworking-crd" in e.message and PODNETWORKING_CRD in e.message
                       for e in events if e.reason == "MigrationApplied")
    finally:
        delete_crd(admin_api, PODNETWORKING_CRD)
