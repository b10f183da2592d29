"""Spiderpool installed with its chart (our Spiderpool-shaped test chart, served over loopback HTTP) is upgraded
through the chart: the release ends at the target chart with the user's values carried over (a key renamed at
1.0.0 migrated), the live agent equals the release's manifest, and each agent pod was replaced exactly once, by
the gated rollout (the chart's own RollingUpdate never ran)."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import time

import pytest
from kubernetes import client

from cniupgrade.kube.helm_cli import HelmCli
from cniupgrade.plugins.helm import decode_release, encode_release
from localcluster import build
from localcluster.waiting import wait_for
from simulated.spiderpool.seed import grant_helm_release_reader
from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import PlanAccount, plan_events
from tests.e2e.recorder import PodRecorder

AGENT_SELECTOR = "app.kubernetes.io/name=spiderpool,app.kubernetes.io/component=spiderpool-agent"
ACCOUNT = "spiderpool-upgrader"


@pytest.fixture
def installed(admin_api, cluster, namespace, chart_repo) -> HelmCli:
    """Spiderpool 0.9.5 from the chart, with a user value 1.0.0 renames; the plan's account may install a chart
    (its ClusterRoles among it: in this test, cluster-admin)."""
    helm = HelmCli(build.ensure_helm(), cluster.kubeconfig)
    helm.upgrade("spiderpool", namespace, "spiderpool", "0.9.5", {"ipam": {"enableSpiderSubnet": True}},
                 repo=chart_repo.url, install=True)
    apps = client.AppsV1Api(admin_api)
    wait_for(lambda: (apps.read_namespaced_daemon_set("spiderpool-agent", namespace).status.number_ready or 0)
             == E2E_NODES, 60, "the agent on every node")
    grant_helm_release_reader(admin_api, namespace)
    rbac = client.RbacAuthorizationV1Api(admin_api)
    client.CoreV1Api(admin_api).create_namespaced_service_account(namespace, {"metadata": {"name": ACCOUNT}})
    binding = f"{namespace}-{ACCOUNT}"
    rbac.create_cluster_role_binding({
        "metadata": {"name": binding},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": namespace}]})
    yield helm
    rbac.delete_cluster_role_binding(binding)
    rbac.delete_cluster_role(f"spiderpool-{namespace}")
    rbac.delete_cluster_role_binding(f"spiderpool-{namespace}")


def test_a_chart_installed_spiderpool_is_upgraded_through_its_chart_node_by_node(
        admin_api, namespace, chart_repo, installed, operator, plans):
    apps = client.AppsV1Api(admin_api)
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        plan_through_chart(plans, namespace, chart_repo.url, rollout={"maxUnavailable": 8})
        status = plans.wait_phase("Succeeded", "Failed", "Preflight", timeout=180)
        assert status["phase"] == "Succeeded", status.get("conditions")
        time.sleep(3)  # the release's last upgrade (the strategy back) must not restart anyone
    history = installed.history("spiderpool", namespace)
    assert [(r.chart, r.status) for r in history] == [  # installed; upgraded, agent held; strategy back
        ("spiderpool-0.9.5", "superseded"), ("spiderpool-1.0.0", "superseded"), ("spiderpool-1.0.0", "deployed")]
    assert installed.values("spiderpool", namespace) == {"ipam": {"spiderSubnet": {"enable": True}}}  # migrated

    live = apps.read_namespaced_daemon_set("spiderpool-agent", namespace)
    manifest = {(d["kind"], d["metadata"]["name"]): d for d in installed.manifest("spiderpool", namespace)}
    rendered = manifest[("DaemonSet", "spiderpool-agent")]["spec"]
    assert [c.name for c in live.spec.template.spec.init_containers] == \
        [c["name"] for c in rendered["template"]["spec"]["initContainers"]] == ["install-plugins",
                                                                                "install-multus-binary"]
    assert [(c.name, c.image) for c in live.spec.template.spec.containers] == \
        [(c["name"], c["image"]) for c in rendered["template"]["spec"]["containers"]]
    assert live.spec.update_strategy.type == rendered["updateStrategy"]["type"] == "RollingUpdate"
    assert live.spec.update_strategy.rolling_update.max_unavailable == 2
    assert "cniupgrade.io/owner" not in (live.metadata.annotations or {})
    assert client.CoreV1Api(admin_api).read_namespaced_config_map("spiderpool-multus-entrypoint", namespace)
    controller = apps.read_namespaced_deployment("spiderpool-controller", namespace).spec.template.spec
    assert controller.containers[0].image.endswith("spiderpool-controller:v1.0.0")

    replaced = recorder.deletion_order()
    assert sorted(replaced) == sorted(set(replaced)) and len(replaced) == E2E_NODES  # each node once
    # ... and each by the operator's gated rollout: the agent was held at OnDelete when the release changed it
    log = operator.log_path.read_text(errors="replace")
    assert len(re.findall(rf"plan {namespace}/upgrade: DeletePod", log)) == E2E_NODES
    assert recorder.max_unavailable() <= 8
    checks = {c["id"]: c for c in status["checks"]}
    assert "added ConfigMap/spiderpool-multus-entrypoint" in checks["chart.render"]["message"]
    assert checks["chart.release"]["result"] == "Passed"
    assert checks["chart.values"]["message"] == ("values carried over: ipam.spiderSubnet.enable: True (new); "
                                                 "ipam.enableSpiderSubnet: True (dropped)")
    plan_events(admin_api, namespace, "ReleaseUpgraded")


def plan_through_chart(plans, namespace: str, repository: str, account: str = ACCOUNT, rollout: dict | None = None,
                       **chart) -> None:
    plans.custom.create_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans", {
        "apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan", "metadata": {"name": "upgrade"},
        "spec": {"plugin": "spiderpool", "targetVersion": "1.0.0", "serviceAccountName": account,
                 "chart": {"repository": repository, **chart}, "rollout": rollout or {}}})


def assert_release_untouched(helm: HelmCli, admin_api, namespace: str) -> None:
    assert [r.chart for r in helm.history("spiderpool", namespace)] == ["spiderpool-0.9.5"]
    ds = client.AppsV1Api(admin_api).read_namespaced_daemon_set("spiderpool-agent", namespace)
    assert ds.spec.update_strategy.type == "RollingUpdate" and "cniupgrade.io/owner" not in (
        ds.metadata.annotations or {})


def test_a_chart_version_the_repository_lacks_stops_the_plan_in_preflight(
        admin_api, namespace, chart_repo, installed, operator, plans):
    plan_through_chart(plans, namespace, chart_repo.url, version="9.9.9")
    status = plans.wait_phase("Preflight", timeout=60)
    render = next(c for c in status["checks"] if c["id"] == "chart.render")
    assert render["result"] == "Failed" and "9.9.9" in render["message"]
    assert_release_untouched(installed, admin_api, namespace)


def test_an_account_without_the_charts_rights_stops_the_plan_in_preflight_naming_them(
        admin_api, namespace, chart_repo, installed, operator, plans):
    """It may read the release (helm's Secrets) and nothing else: helm would fail half-way; the plan never starts."""
    reader = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]
    with PlanAccount(admin_api, namespace, "reader-only", reader):
        plan_through_chart(plans, namespace, chart_repo.url, account="reader-only")
        status = plans.wait_phase("Preflight", timeout=60)
    rights = next(c for c in status["checks"] if c["id"] == "chart.permissions")
    assert rights["result"] == "Failed"
    assert f"ServiceAccount {namespace}/reader-only may not:" in rights["message"]
    assert "get/create/patch clusterroles.rbac.authorization.k8s.io;" in rights["message"]
    assert f"get/create/patch daemonsets.apps in {namespace}" in rights["message"]
    assert f"create/update secrets in {namespace}" in rights["message"]  # helm's own record of the release
    assert_release_untouched(installed, admin_api, namespace)


def set_release_status(api, namespace: str, revision: int, status: str) -> None:
    """What helm's storage says of one revision (the Secret's label and the encoded release)."""
    core = client.CoreV1Api(api)
    name = f"sh.helm.release.v1.spiderpool.v{revision}"
    secret = core.read_namespaced_secret(name, namespace)
    release = decode_release(secret.data["release"])
    release["info"]["status"] = status
    core.patch_namespaced_secret(name, namespace, {"metadata": {"labels": {"status": status}},
                                                   "data": {"release": encode_release(release)}})


def test_an_upgrade_interrupted_under_helm_resumes_and_the_release_is_unlocked(
        admin_api, namespace, chart_repo, installed, operator, plans):
    """The operator's pod died during `helm upgrade` (held at OnDelete): the revision is left pending-upgrade and
    helm refuses the next one. The restarted operator marks its own interrupted revision failed and goes on."""
    apps = client.AppsV1Api(admin_api)
    plan_through_chart(plans, namespace, chart_repo.url, rollout={"maxUnavailable": 8})
    plans.patch_spec(paused=True)
    plans.wait_phase("Paused", timeout=60)
    operator.kill()
    ds = apps.read_namespaced_daemon_set("spiderpool-agent", namespace)
    images = {c.name: c.image for c in [*ds.spec.template.spec.containers, *ds.spec.template.spec.init_containers]}
    apps.patch_namespaced_daemon_set("spiderpool-agent", namespace, {  # what taking it did before the kill
        "metadata": {"annotations": {
            "cniupgrade.io/owner": f"{namespace}/upgrade",
            "cniupgrade.io/original-update-strategy": json.dumps(  # the chart's default, as installed
                {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}}, sort_keys=True),
            "cniupgrade.io/previous-images": json.dumps(images, sort_keys=True)}},
        "spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": None}}})
    installed.upgrade("spiderpool", namespace, "spiderpool", "1.0.0", {
        "ipam": {"spiderSubnet": {"enable": True}},
        "spiderpoolAgent": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": None}}}, repo=chart_repo.url)
    set_release_status(admin_api, namespace, 1, "deployed")  # ... and helm never got to record its end
    set_release_status(admin_api, namespace, 2, "pending-upgrade")
    plans.custom.patch_namespaced_custom_object_status("cniupgrade.io", "v1alpha1", namespace, "upgradeplans",
                                                       "upgrade", {"status": {"startedAt": "2026-12-02T00:00:00Z",
                                                                              "phase": "Canary"}})
    plans.patch_spec(paused=False)
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        operator.start()
        status = plans.wait_phase("Succeeded", "Failed", timeout=180)
    assert status["phase"] == "Succeeded", status.get("conditions")
    assert [(r.chart, r.status) for r in installed.history("spiderpool", namespace)] == [
        ("spiderpool-0.9.5", "superseded"), ("spiderpool-1.0.0", "failed"), ("spiderpool-1.0.0", "superseded"),
        ("spiderpool-1.0.0", "deployed")]
    plan_events(admin_api, namespace, "ReleaseUnlocked")
    replaced = recorder.deletion_order()
    assert sorted(replaced) == sorted(set(replaced)) and len(replaced) == E2E_NODES


def test_a_pinned_chart_archive_in_a_configmap_and_values_from_configmaps_and_secrets(
        admin_api, namespace, chart_repo, installed, operator, plans):
    """Air-gapped: the archive in a ConfigMap, its sha256 pinned; values from a ConfigMap and a Secret (the Secret's
    never copied into the plan's status), spec.chart.values on top of both."""
    archive = (chart_repo.folder / "repo" / "spiderpool-1.0.0.tgz").read_bytes()
    core = client.CoreV1Api(admin_api)
    core.create_namespaced_config_map(namespace, {
        "metadata": {"name": "spiderpool-chart"}, "binaryData": {"chart.tgz": base64.b64encode(archive).decode()}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "site-values"}, "data": {
        "values.yaml": "spiderpoolController: {replicas: 2}\nsite: {zone: a, tier: x}\n"}})
    core.create_namespaced_secret(namespace, {"metadata": {"name": "site-secret"}, "stringData": {
        "values.yaml": "site: {token: s3cr3t-value, tier: y}\n"}})
    plans.custom.create_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans", {
        "apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan", "metadata": {"name": "upgrade"},
        "spec": {"plugin": "spiderpool", "targetVersion": "1.0.0", "serviceAccountName": ACCOUNT,
                 "chart": {"archive": {"configMap": "spiderpool-chart"},
                           "digest": "sha256:" + hashlib.sha256(archive).hexdigest(),
                           "valuesFrom": [{"kind": "ConfigMap", "name": "site-values"},
                                          {"kind": "Secret", "name": "site-secret"},
                                          {"kind": "Secret", "name": "absent", "optional": True}],
                           "values": {"site": {"tier": "z"}}},
                 "rollout": {"maxUnavailable": 8}}})
    status = plans.wait_phase("Succeeded", "Failed", "Preflight", timeout=180)
    assert status["phase"] == "Succeeded", status.get("conditions")
    assert installed.history("spiderpool", namespace)[-1].chart == "spiderpool-1.0.0"
    init = client.AppsV1Api(admin_api).read_namespaced_daemon_set("spiderpool-agent", namespace).spec.template.spec
    assert [c.name for c in init.init_containers] == ["install-plugins", "install-multus-binary"]
    assert installed.values("spiderpool", namespace) == {
        "ipam": {"spiderSubnet": {"enable": True}}, "spiderpoolController": {"replicas": 2},
        "site": {"zone": "a", "token": "s3cr3t-value", "tier": "z"}}
    assert client.AppsV1Api(admin_api).read_namespaced_deployment("spiderpool-controller",
                                                                  namespace).spec.replicas == 2
    assert "s3cr3t-value" not in json.dumps(plans.get())
    assert next(c for c in status["checks"] if c["id"] == "chart.digest")["result"] == "Passed"


def test_a_chart_archive_whose_bytes_differ_from_the_pin_stops_the_plan_in_preflight(
        admin_api, namespace, chart_repo, installed, operator, plans):
    archive = (chart_repo.folder / "repo" / "spiderpool-1.0.0.tgz").read_bytes()
    client.CoreV1Api(admin_api).create_namespaced_secret(namespace, {
        "metadata": {"name": "spiderpool-chart"}, "data": {"chart.tgz": base64.b64encode(archive).decode()}})
    pin = "sha256:" + hashlib.sha256(archive + b"tampered").hexdigest()
    plans.custom.create_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans", {
        "apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan", "metadata": {"name": "upgrade"},
        "spec": {"plugin": "spiderpool", "targetVersion": "1.0.0", "serviceAccountName": ACCOUNT,
                 "chart": {"archive": {"secret": "spiderpool-chart"}, "digest": pin}}})
    status = plans.wait_phase("Preflight", timeout=60)
    render = next(c for c in status["checks"] if c["id"] == "chart.render")
    assert render["result"] == "Failed" and f"not the pinned {pin}" in render["message"]
    assert_release_untouched(installed, admin_api, namespace)


def test_a_chart_from_an_oci_registry(admin_api, namespace, chart_registry, installed, operator, plans):
    plan_through_chart(plans, namespace, chart_registry.url, plainHttp=True, rollout={"maxUnavailable": 8})
    status = plans.wait_phase("Succeeded", "Failed", "Preflight", timeout=180)
    assert status["phase"] == "Succeeded", status.get("conditions")
    assert [r.chart for r in installed.history("spiderpool", namespace)][-1] == "spiderpool-1.0.0"
    assert status["chart"]["repository"] == chart_registry.url


def test_the_charts_crds_are_applied_before_the_release_is_upgraded(
        admin_api, namespace, chart_repo, installed, operator, plans):
    """helm installs crds/ once and never upgrades them; the chart path applies the target chart's."""
    ext = client.ApiextensionsV1Api(admin_api)
    name = "spiderclaimparameters.spiderpool.spidernet.io"
    if [c for c in ext.list_custom_resource_definition().items if c.metadata.name == name]:  # an earlier test's
        ext.delete_custom_resource_definition(name)
        wait_for(lambda: name not in {c.metadata.name for c in ext.list_custom_resource_definition().items}, 30,
                 "the CRD gone")
    plan_through_chart(plans, namespace, chart_repo.url, rollout={"maxUnavailable": 8})
    status = plans.wait_phase("Succeeded", "Failed", "Preflight", timeout=180)
    assert status["phase"] == "Succeeded", status.get("conditions")
    crd = ext.read_custom_resource_definition(name)
    assert crd.metadata.annotations["spiderpool.test/chart-version"] == "1.0.0"


def test_the_generic_profile_upgrades_any_chart_holding_its_agent_with_a_post_renderer(
        admin_api, namespace, chart_repo, installed, operator, plans):
    """A chart the operator knows nothing of (no value for the agent's strategy): a post-renderer holds the agent at
    OnDelete while the release is upgraded; the nodes are rolled by the gated rollout; the release ends as the
    chart renders it (RollingUpdate) without restarting anyone again."""
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        plans.custom.create_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans", {
            "apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan", "metadata": {"name": "upgrade"},
            "spec": {"plugin": "generic", "targetVersion": "1.0.0", "serviceAccountName": ACCOUNT,
                     "daemonSet": {"name": "spiderpool-agent"},
                     "chart": {"repository": chart_repo.url, "name": "spiderpool", "releaseName": "spiderpool",
                               "values": {"global": {"imageRegistryOverride": "example.com"}}},
                     "rollout": {"maxUnavailable": 8}}})
        status = plans.wait_phase("Succeeded", "Failed", "Preflight", timeout=180)
        assert status["phase"] == "Succeeded", status.get("conditions")
        time.sleep(3)  # the release's last upgrade (the strategy back) must not restart anyone
    assert [(r.chart, r.status) for r in installed.history("spiderpool", namespace)][-2:] == [
        ("spiderpool-1.0.0", "superseded"), ("spiderpool-1.0.0", "deployed")]
    held = decode_release(client.CoreV1Api(admin_api).read_namespaced_secret(
        "sh.helm.release.v1.spiderpool.v2", namespace).data["release"])
    assert "type: OnDelete" in held["manifest"]  # the revision helm recorded while the agent was held
    live = client.AppsV1Api(admin_api).read_namespaced_daemon_set("spiderpool-agent", namespace)
    assert live.spec.update_strategy.type == "RollingUpdate"
    assert {c.image.split("/")[0] for c in live.spec.template.spec.containers} == {"example.com"}
    replaced = recorder.deletion_order()
    assert sorted(replaced) == sorted(set(replaced)) and len(replaced) == E2E_NODES
    log = operator.log_path.read_text(errors="replace")
    assert len(re.findall(rf"plan {namespace}/upgrade: DeletePod", log)) == E2E_NODES


def test_a_failed_chart_upgrade_rolls_back_the_nodes_then_the_release(
        admin_api, namespace, chart_repo, installed, operator, plans):
    """The canary's new agent never turns Ready: its node is put back on the previous ControllerRevision's template
    under the gate, then helm rolls the release back to the revision before the plan; no other agent restarts."""
    apps = client.AppsV1Api(admin_api)
    before = apps.read_namespaced_daemon_set("spiderpool-agent", namespace).spec.template.spec
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        plans.custom.create_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans", {
            "apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan", "metadata": {"name": "upgrade"},
            "spec": {"plugin": "spiderpool", "targetVersion": "1.0.0", "serviceAccountName": ACCOUNT,
                     "rollbackOnFailure": True, "prePull": {"enabled": False},
                     "chart": {"repository": chart_repo.url,
                               "values": {"spiderpoolAgent": {"image": {"tag": "v1.0.0-never-ready"}}}},
                     "rollout": {"nodeTimeoutSeconds": 10, "maxUnavailable": 4}}})
        status = plans.wait_phase("RolledBack", "Failed", "Succeeded", timeout=180)
        time.sleep(3)  # helm's rollback gave the strategy back: the native controller must find nothing to do
    assert status["phase"] == "RolledBack", status.get("conditions")
    canary = status["plan"]["batches"][0][0]
    assert {n["name"]: n["state"] for n in status["nodes"]} == {canary: "RolledBack"}
    assert [(r.chart, r.status, r.description) for r in installed.history("spiderpool", namespace)][-1] == \
        ("spiderpool-0.9.5", "deployed", "Rollback to 1")
    live = apps.read_namespaced_daemon_set("spiderpool-agent", namespace)
    assert [c.name for c in live.spec.template.spec.init_containers] == [c.name for c in before.init_containers]
    assert [c.image for c in live.spec.template.spec.containers] == [c.image for c in before.containers]
    assert live.spec.update_strategy.type == "RollingUpdate"
    assert "cniupgrade.io/owner" not in (live.metadata.annotations or {})
    touched = {node for node, uids in recorder.uids_per_node().items() if len(uids) > 1}
    assert touched == {canary} and len(recorder.uids_per_node()[canary]) == 3  # old, broken, old again
    plan_events(admin_api, namespace, "ReleaseRolledBack")


def test_a_rollback_asked_for_after_a_chart_upgrade_succeeded_returns_nodes_then_the_release(
        admin_api, namespace, chart_repo, installed, operator, plans):
    """spec.rollback: true on a Succeeded chart plan (as a GitOps commit would): the agent is held again, each node
    goes back to the previous ControllerRevision's template under the gate, then helm rolls the release back."""
    apps = client.AppsV1Api(admin_api)
    before = apps.read_namespaced_daemon_set("spiderpool-agent", namespace).spec.template.spec
    with PodRecorder(admin_api, namespace, AGENT_SELECTOR) as recorder:
        plan_through_chart(plans, namespace, chart_repo.url, rollout={"maxUnavailable": 8})
        assert plans.wait_phase("Succeeded", "Failed", timeout=180)["phase"] == "Succeeded"
        plans.patch_spec(rollback=True)
        status = plans.wait_phase("RolledBack", "Failed", timeout=180)
        time.sleep(3)  # helm's rollback gave the strategy back: the native controller must find nothing to do
    assert status["phase"] == "RolledBack", status.get("conditions")
    assert status["rollback"]["source"] == "spec.rollback" and status["rollback"]["phase"] == "Succeeded"
    assert [(r.chart, r.status, r.description) for r in installed.history("spiderpool", namespace)][-1] == \
        ("spiderpool-0.9.5", "deployed", "Rollback to 1")
    live = apps.read_namespaced_daemon_set("spiderpool-agent", namespace)
    assert [c.name for c in live.spec.template.spec.init_containers] == [c.name for c in before.init_containers]
    assert [c.image for c in live.spec.template.spec.containers] == [c.image for c in before.containers]
    assert live.spec.update_strategy.type == "RollingUpdate"
    uids = recorder.uids_per_node()
    assert len(uids) == E2E_NODES and all(len(seen) == 3 for seen in uids.values()), {
        n: len(u) for n, u in uids.items() if len(u) != 3}  # upgraded once, back once, by the gated rollout
    assert recorder.max_unavailable() <= 8
