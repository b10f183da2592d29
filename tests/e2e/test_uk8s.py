"""UK8S cni-vpc: one node first, then batches; pods that predate their node's upgrade are reported and restarted."""
from __future__ import annotations

from kubernetes import client

from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import ROLL_DAEMONSET_RULES, PlanAccount, plan_events
from tests.e2e.recorder import PodRecorder
from localcluster.waiting import wait_for

IMAGE = "uhub.service.ucloud.cn/uk8s/cni-vpc-node:{}"
LABELS = {"app": "cni-vpc-node"}


def install_cni_vpc(admin_api, namespace):
    apps = client.AppsV1Api(admin_api)
    apps.create_namespaced_daemon_set(namespace, {
        "metadata": {"name": "cni-vpc-node"},
        "spec": {"selector": {"matchLabels": LABELS}, "template": {"metadata": {"labels": LABELS}, "spec": {
            "hostNetwork": True, "tolerations": [{"operator": "Exists"}],
            "containers": [{"name": "cni-vpc-node", "image": IMAGE.format("1.2.3")}]}}}})
    apps.create_namespaced_deployment(namespace, {
        "metadata": {"name": "web"},
        "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                     "containers": [{"name": "web", "image": "example.com/web:1"}]}}}})
    wait_for(lambda: (apps.read_namespaced_daemon_set("cni-vpc-node", namespace).status.number_ready or 0) == E2E_NODES
             and (apps.read_namespaced_deployment("web", namespace).status.ready_replicas or 0) == 6, 60,
             "cni-vpc-node everywhere and web ready")


def create_plan(plans, namespace, account: str | None = None, **uk8s):
    plans.custom.create_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans", {
        "apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan", "metadata": {"name": "upgrade"},
        "spec": {"plugin": "uk8s-cni-vpc", "targetVersion": "1.3.0", "namespace": namespace,
                 "rollout": {"maxUnavailable": 6}, "uk8s": uk8s,
                 **({"serviceAccountName": account} if account else {})}})


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
                      "security.cluster-scope": "Passed", "generic.downgrade": "Passed", "uk8s.lts-only": "Passed",
                      "uk8s.unreadable-versions": "Passed"}
    events = plan_events(admin_api, namespace, "OldPodsFound")
    assert any(e.reason == "OldPodsFound" and "restarted" in e.message for e in events)


def test_an_unmaintained_kubernetes_may_only_move_to_lts(admin_api, namespace, operator, plans):
    install_cni_vpc(admin_api, namespace)
    create_plan(plans, namespace, maintainedKubernetesMinors=["1.30", "1.32", "1.34"])
    plans.wait_phase("Preflight", timeout=60)
    assert "uk8s.lts-only" in plans.condition("Ready")["message"]
    checks = {c["id"]: c for c in plans.status()["checks"]}
    assert "1.36" in checks["uk8s.lts-only"]["message"] and "-lts" in checks["uk8s.lts-only"]["remediation"]
    assert client.AppsV1Api(admin_api).read_namespaced_daemon_set(
        "cni-vpc-node", namespace).spec.template.spec.containers[0].image == IMAGE.format("1.2.3")
