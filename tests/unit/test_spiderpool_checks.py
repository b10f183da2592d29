"""Each Spiderpool note as a check: it finds exactly the affected objects, and passes on a clean cluster."""
from __future__ import annotations

import json

from packaging.version import Version

from cniupgrade.plugins.helm import HelmRelease
from cniupgrade.plugins.spiderpool import checks, facts
from cniupgrade.plugins.spiderpool.scan import ClusterScan
from cniupgrade.plugins.spiderpool.snapshot import SpiderpoolSnapshot
from cniupgrade.preflight.framework import evaluate
from cniupgrade.seams.objects import NodeInfo

NS = "kube-system"


def snap(ippools=(), endpoints=(), pods=(), **kw) -> SpiderpoolSnapshot:
    """The snapshot the reader would build: pools, endpoints and pods streamed through a ClusterScan."""
    scan = ClusterScan.of(checks.host_ports(kw.get("release")), ippools, endpoints, pods)
    return SpiderpoolSnapshot(namespace=NS, target=Version(kw.pop("target", "0.9.5")), scan=scan, **kw)


def release(values: dict) -> HelmRelease:
    return HelmRelease("spiderpool", 3, "deployed", "0.3.5", "0.3.5", values)


def obj(name, namespace=None, labels=None, **rest):
    meta = {"name": name, "labels": labels or {}}
    if namespace:
        meta["namespace"] = namespace
    return {"metadata": meta, **rest}


def crd(name, properties=()):
    return {"metadata": {"name": name}, "spec": {"versions": [{"name": "v2beta1", "schema": {"openAPIV3Schema": {
        "properties": {"spec": {"properties": {p: {"type": "integer"} for p in properties}}}}}}]}}


def test_old_auto_pools_lacking_new_labels_are_named():
    old = obj("auto-deployment-default-web-v4-abc", labels={facts.OLD_AUTO_POOL_LABEL: "deployment-default-web"})
    new = obj("auto4-web-eth0-40371", labels={facts.OLD_AUTO_POOL_LABEL: "x", **{k: "v" for k in facts.AUTO_POOL_LABELS}})
    manual = obj("default-v4")
    f = checks.auto_pool_labels(snap(ippools=(old, new, manual)))
    assert not f.passed and f.objects == ("auto-deployment-default-web-v4-abc",)
    assert f.migration == "spiderpool.add-auto-pool-labels"
    assert checks.auto_pool_labels(snap(ippools=(new, manual))).passed


def test_endpoints_with_owner_type_none_are_named():
    eps = (obj("a", "app", status={"ownerControllerType": "None"}), obj("b", "app", status={"ownerControllerType": "Pod"}),
           obj("c", "db", status={"ownerControllerType": "StatefulSet"}))
    f = checks.endpoint_owner_type(snap(endpoints=eps))
    assert not f.passed and f.objects == ("app/a",) and "Pod" in f.remediation


def test_missing_crds_and_tx_queue_len():
    f = checks.missing_crds(snap(crds={facts.CRD_COORDINATOR: crd(facts.CRD_COORDINATOR)}))
    assert not f.passed and f.objects == (facts.CRD_MULTUS_CONFIG,)
    both = {facts.CRD_COORDINATOR: crd(facts.CRD_COORDINATOR), facts.CRD_MULTUS_CONFIG: crd(facts.CRD_MULTUS_CONFIG)}
    assert checks.missing_crds(snap(crds=both)).passed
    assert not checks.coordinator_tx_queue_len(snap(crds=both)).passed
    updated = {**both, facts.CRD_COORDINATOR: crd(facts.CRD_COORDINATOR, ["txQueueLen", "podCIDRType"])}
    assert checks.coordinator_tx_queue_len(snap(crds=updated)).passed


def test_multus_uninstall_only_when_set_true_and_the_guide_is_corrected():
    f = checks.multus_uninstall(snap(release=release({"multus": {"multusCNI": {"uninstall": True}}})))
    assert not f.passed and "uninstall=false" in f.remediation
    ok = checks.multus_uninstall(snap(release=release({})))
    assert ok.passed and "wrongly" in ok.message


def test_target_0_9_0_is_refused():
    assert not checks.skip_0_9_0(snap(target="0.9.0")).passed
    assert checks.skip_0_9_0(snap(target="0.9.1")).passed


def test_duplicate_ips_across_pools_endpoints_and_pods():
    pool = obj("pool", status={"allocatedIPs": json.dumps({
        "10.6.0.10": {"pod": "app/web-0", "podUid": "1"}, "10.6.0.11": {"pod": "app/web-1", "podUid": "2"}})})
    endpoint = obj("web-9", "app", status={"current": {"ips": [{"interface": "eth0", "ipv4": "10.6.0.10/16"}]}})
    pods = (obj("web-0", "app", status={"podIPs": [{"ip": "10.6.0.10"}]}),
            obj("web-1", "app", status={"podIPs": [{"ip": "10.6.0.11"}]}),
            obj("host", "kube-system", spec={"hostNetwork": True}, status={"podIPs": [{"ip": "10.6.0.11"}]}))
    f = checks.duplicate_ips(snap(ippools=(pool,), endpoints=(endpoint,), pods=pods))
    assert not f.passed and f.objects == ("app/web-0", "app/web-9")
    assert "10.6.0.10" in f.message and "does not repair" in f.message
    assert f.after_upgrade.startswith("restart the 2 pod(s)")
    clean = checks.duplicate_ips(snap(ippools=(pool,), pods=pods))
    assert clean.passed and not clean.after_upgrade


def test_init_pod_finding_corrects_the_guide_command():
    f = checks.init_pod(snap(init_pod=obj(facts.INIT_POD, NS)))
    assert not f.passed and f"kubectl -n {NS} delete pod spiderpool-init" in f.remediation
    assert checks.init_pod(snap()).passed


def test_renamed_and_removed_values():
    f = checks.renamed_values(snap(release=release({"ipam": {"enableSpiderSubnet": True, "enableCleanOutdatedEndpoint": False}}),
                                   target="1.0.0"))
    assert not f.passed and f.objects == ("ipam.enableSpiderSubnet", "ipam.enableCleanOutdatedEndpoint")
    assert "ipam.spiderSubnet.enable" in f.message and "never shipped" in f.message
    assert checks.renamed_values(snap(release=release({"ipam": {"spiderSubnet": {"enable": True}}}),
                                      target="1.0.0")).passed
    feature_era = checks.renamed_values(snap(release=release({"feature": {"enableSpiderSubnet": True}})))
    assert feature_era.objects == ("feature",) and "now ipam (0.6.0)" in feature_era.message  # 0.3.5 -> 0.9.5


def controller(replicas, host_network=True, surge="25%"):
    return {"metadata": {"name": "spiderpool-controller"}, "spec": {
        "replicas": replicas, "strategy": {"rollingUpdate": {"maxSurge": surge}},
        "template": {"spec": {"hostNetwork": host_network}}}}


def test_controller_replicas_on_every_node_would_hang_a_surge():
    nodes = tuple(NodeInfo(f"n{i}") for i in range(3)) + (NodeInfo("cordoned", schedulable=False),)
    assert not checks.controller_replicas(snap(controller=controller(3), nodes=nodes)).passed
    assert checks.controller_replicas(snap(controller=controller(2), nodes=nodes)).passed
    assert checks.controller_replicas(snap(controller=controller(3, surge=0), nodes=nodes)).passed
    assert checks.controller_replicas(snap(controller=controller(3, host_network=False), nodes=nodes)).passed


def test_host_port_conflicts_respect_configured_ports():
    other = obj("exporter", "monitoring", spec={"nodeName": "n1", "containers": [{"ports": [{"hostPort": 5711}]}]})
    own = obj("spiderpool-agent-x", NS, labels={"app.kubernetes.io/name": "spiderpool"},
              spec={"hostNetwork": True, "containers": [{"ports": [{"containerPort": 5710}]}]})
    f = checks.host_port_conflicts(snap(pods=(other, own)))
    assert not f.passed and len(f.objects) == 1 and "monitoring/exporter on n1 uses port 5711" in f.objects[0]
    moved = release({"spiderpoolAgent": {"prometheus": {"port": 9711}}})
    assert checks.host_port_conflicts(snap(pods=(other, own), release=moved)).passed


def test_a_0_3_5_to_0_9_5_preview_lists_every_applicable_note_in_order():
    verdict = evaluate(checks.CHECKS, snap(), Version("0.3.5"), Version("0.9.5"))
    assert [f.check_id for f in verdict.findings] == [
        "spiderpool.skip-0.9.0", "spiderpool.auto-pool-labels", "spiderpool.endpoint-owner-type",
        "spiderpool.stored-versions", "spiderpool.fields-1.0.0", "spiderpool.missing-crds",
        "spiderpool.multus-uninstall", "spiderpool.init-pod", "spiderpool.coordinator-txqueuelen",
        "spiderpool.default-objects", "spiderpool.duplicate-ips", "spiderpool.ip-headroom",
        "spiderpool.ip-leaks", "spiderpool.orphan-endpoints", "spiderpool.renamed-values",
        "spiderpool.cleanup-hook", "spiderpool.controller-replicas", "spiderpool.host-ports",
        "spiderpool.helm-release-behind"]
    later = evaluate(checks.CHECKS, snap(target="1.2.2"), Version("0.9.5"), Version("1.2.2"))
    assert [f.check_id for f in later.findings] == [
        "spiderpool.skip-0.9.0", "spiderpool.fields-1.0.0", "spiderpool.ip-headroom", "spiderpool.ip-leaks",
        "spiderpool.orphan-endpoints", "spiderpool.renamed-values", "spiderpool.cleanup-hook",
        "spiderpool.controller-replicas", "spiderpool.host-ports", "spiderpool.helm-release-behind"]


def test_the_running_images_name_the_installed_version_before_a_helm_release_left_behind():
    # an earlier plan upgraded 0.3.5 -> 0.9.5 outside helm: the release still records 0.3.5
    assert checks.installed_version(checks.running_version(["v0.9.5", "v0.9.5"]), release({})) == "0.9.5"
    # a rollout that stopped half-way: the template and some pods are new, the rest old; notes apply from the oldest
    assert checks.running_version(["v0.9.5", "v0.9.5", "v0.3.5", None]) == "0.3.5"
    # images without a version (a floating or custom tag): what helm recorded, else unknown (every note applies)
    assert checks.running_version(["latest", None]) is None
    assert checks.installed_version(None, release({})) == "0.3.5"
    assert checks.installed_version(None, None) is None


def test_a_helm_release_behind_the_running_version_is_a_warning_naming_the_fix():
    behind = checks.helm_release_behind(snap(release=release({}), running_version="0.9.5", target="1.0.0"))
    assert not behind.passed and behind.severity is checks.Severity.warning
    assert "records Spiderpool 0.3.5, but 0.9.5 runs" in behind.message
    assert "helm upgrade spiderpool spiderpool/spiderpool -n kube-system --version 1.0.0" in behind.remediation
    assert behind.objects == ("helm release spiderpool",)
    assert checks.helm_release_behind(snap(release=release({}), running_version=None)).passed
    assert checks.helm_release_behind(snap(running_version="0.9.5")).passed  # not installed with helm
    # in line before the upgrade; the upgrade itself will leave it behind, so the plan says what to do after it
    in_line = checks.helm_release_behind(snap(release=release({}), running_version="0.3.5", target="0.9.5"))
    assert in_line.passed and "--version 0.9.5" in in_line.after_upgrade
    assert "still records Spiderpool 0.3.5" in in_line.after_upgrade and "--version 1.0.0" in behind.after_upgrade
    # a plan to the version helm already records leaves nothing to do
    assert not checks.helm_release_behind(snap(release=release({}), running_version="0.3.5",
                                               target="0.3.5")).after_upgrade
