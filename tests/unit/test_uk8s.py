"""The UK8S cni-vpc profile: the LTS-only rule, versions per node, the 2.0.0 notes and their CRD migration,
images, and pods that predate the upgrade."""
from __future__ import annotations

import datetime as dt

import pytest
import yaml

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.plugins.uk8s.checks import (PodRef, Uk8sSnapshot, checks_for, lts_only, multi_subnet_breaking,
                                            node_downgrade, nodes_already_at_target, old_pods, podnetworking_crd,
                                            target_version, unreadable_versions, workloads_to_restart)
from cniupgrade.preflight.framework import Verdict
from cniupgrade.seams.plugin import MigrationError, plugin_for
from tests.unit.builders import target_images
from tests.unit.fake_cluster import FakeCluster

T = dt.datetime(2026, 11, 23, 12, tzinfo=dt.timezone.utc)


def snap(**kw) -> Uk8sSnapshot:
    return Uk8sSnapshot(**{"kubernetes_version": "v1.28.5", "target": "1.3.0", **kw})


def test_unmaintained_clusters_may_only_move_to_lts():
    f = lts_only(snap(maintained_minors=("1.30", "1.32", "1.34")))
    assert not f.passed and "1.28" in f.message and "-lts" in f.remediation
    assert lts_only(snap(maintained_minors=("1.30",), target="1.0.4-lts")).passed
    assert lts_only(snap(kubernetes_version="v1.32.1", maintained_minors=("1.30", "1.32"))).passed
    unknown = lts_only(snap())
    assert not unknown.passed and unknown.severity.value == "Warning" and "maintainedKubernetesMinors" in unknown.remediation


def test_unreadable_versions_are_named_unless_forced():
    versions = {"n1": "1.2.3", "n2": None, "n3": "dev-3f2a9c1"}
    f = unreadable_versions(snap(node_versions=versions))
    assert not f.passed and f.objects == ("n2", "n3") and "force" in f.remediation
    forced = unreadable_versions(snap(node_versions=versions, force=True))
    assert forced.passed and forced.objects == ("n2", "n3")
    assert unreadable_versions(snap(node_versions={"n1": "1.0.3-lts"})).passed


def test_profile_picks_the_component_and_retags_only_cni_vpc_images():
    plan = UpgradePlanSpec.model_validate({"plugin": "uk8s-cni-vpc", "targetVersion": "1.3.0"})
    profile = plugin_for(plan)
    assert profile.daemonset_name(plan) == "cni-vpc-node"
    ipamd = UpgradePlanSpec.model_validate({"plugin": "uk8s-cni-vpc", "targetVersion": "1.3.0",
                                            "uk8s": {"component": "ipamd"}})
    assert profile.daemonset_name(ipamd) == "cni-vpc-ipamd"
    images = {"cni-vpc-node": "uhub.service.ucloud.cn/uk8s/cni-vpc-node:1.2.3", "helper": "busybox:1.36"}
    assert target_images(plan, images) == {"cni-vpc-node": "uhub.service.ucloud.cn/uk8s/cni-vpc-node:1.3.0",
                                                   "helper": "busybox:1.36"}
    assert profile.installed_version(images) == "1.2.3"


def test_old_pods_are_those_created_before_their_node_was_upgraded():
    upgraded = {"n1": T, "n2": T + dt.timedelta(minutes=5)}
    pods = [PodRef("app", "web-a", "n1", T - dt.timedelta(hours=1), ("Deployment", "web")),
            PodRef("app", "web-b", "n2", T + dt.timedelta(minutes=1), ("Deployment", "web")),  # before n2's upgrade
            PodRef("app", "web-c", "n1", T + dt.timedelta(minutes=1), ("Deployment", "web")),  # after n1's: new
            PodRef("db", "pg-0", "n3", T - dt.timedelta(hours=1), ("StatefulSet", "pg")),  # n3 not upgraded
            PodRef("app", "bare", "n2", T, None)]
    found = old_pods(pods, upgraded)
    assert [p.name for p in found] == ["bare", "web-a", "web-b"]
    assert workloads_to_restart(found) == [("Deployment", "app", "web")]


# ---- versions per node, the 2.0.0 notes, and the PodNetworking CRD ----------------------------------------

def test_the_installed_version_is_the_most_common_and_on_a_tie_the_oldest():
    assert snap(node_versions={"n1": "1.3.0", "n2": "22.05.1", "n3": "22.05.1", "n4": "dev-1"}).installed == "22.05.1"
    assert snap(node_versions={"n1": "1.0.2", "n2": "22.05.1"}).installed == "22.05.1"  # date tags came first
    assert snap(node_versions={"n1": "dev-1", "n2": None}).installed is None


def test_nodes_newer_than_the_target_are_a_downgrade_for_them():
    versions = {"n1": "22.05.1", "n2": "1.3.5", "n3": "1.3.0", "n4": "dev-1"}
    f = node_downgrade(snap(node_versions=versions))
    assert not f.passed and f.objects == ("n2 (1.3.5)",) and "allowDowngrade" in f.remediation
    allowed = node_downgrade(snap(node_versions=versions, allow_downgrade=True))
    assert allowed.passed and allowed.objects == ("n2 (1.3.5)",)
    assert node_downgrade(snap(node_versions={"n1": "22.05.1", "n2": "1.0.4-lts"})).passed


def test_nodes_already_at_the_target_are_named():
    f = nodes_already_at_target(snap(node_versions={"n1": "1.3.0", "n2": "1.2.3", "n3": "1.3.0"}))
    assert f.passed and f.objects == ("n1", "n3") and "already run 1.3.0" in f.message


def test_a_target_that_is_no_release_needs_force():
    assert target_version(snap()).passed
    dev = target_version(snap(target="dev-3f2a9c1"))
    assert not dev.passed and "spec.uk8s.force" in dev.remediation
    assert target_version(snap(target="dev-3f2a9c1", force=True)).passed


def test_an_lts_only_cluster_moves_forward_along_the_lts_line_only():
    unmaintained = {"maintained_minors": ("1.30", "1.32", "1.34")}
    assert lts_only(snap(target="1.0.4-lts", node_versions={"n1": "1.0.3-lts"}, **unmaintained)).passed
    assert lts_only(snap(target="1.0.3-lts", node_versions={"n1": "22.05.1"}, **unmaintained)).passed
    back = lts_only(snap(target="1.0.3-lts", node_versions={"n1": "1.0.4-lts"}, **unmaintained))
    assert not back.passed and "only moves forward" in back.message
    off_line = lts_only(snap(target="1.3.0", node_versions={"n1": "1.0.4-lts"}, **unmaintained))
    assert not off_line.passed and "1.3.0 is not an -lts version" in off_line.message


def ids(s: Uk8sSnapshot) -> list[str]:
    return [c.id for c in checks_for(s)]


def test_the_2_0_0_notes_apply_when_the_upgrade_reaches_it():
    assert "uk8s.breaking-2.0.0" in ids(snap(target="2.0.1", node_versions={"n1": "1.2.0", "n2": "2.0.0"}))
    assert "uk8s.breaking-2.0.0" in ids(snap(target="2.0.1", node_versions={"n1": "dev-1"}))  # unknown: may cross
    within = ids(snap(target="2.0.3", node_versions={"n1": "2.0.1"}))
    assert "uk8s.breaking-2.0.0" not in within and "uk8s.podnetworking-crd" in within  # 2.x always needs the CRD
    assert not {"uk8s.breaking-2.0.0", "uk8s.podnetworking-crd"} & set(ids(snap(node_versions={"n1": "1.2.0"})))


def test_crossing_2_0_0_asks_for_approval_and_names_the_breaking_change():
    f = multi_subnet_breaking(snap(target="2.0.1"))
    assert not f.passed and f.needs_approval and "breaking" in f.message and "PodNetworking" in f.message
    assert Verdict([f]).blocking(warnings_block=True) == [] and Verdict([f]).approvals() == [f]


PODNETWORKING = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                 "metadata": {"name": "podnetworkings.vpc.uk8s.ucloud.cn"},
                 "spec": {"group": "vpc.uk8s.ucloud.cn", "scope": "Cluster",
                          "names": {"plural": "podnetworkings", "kind": "PodNetworking"},
                          "versions": [{"name": "v1beta1", "served": True, "storage": True}]}}


def test_a_missing_podnetworking_crd_is_applied_from_the_configmap_named():
    missing = podnetworking_crd(snap(target="2.0.1"))
    assert not missing.passed and missing.migration is None and "crdSourceConfigMap" in missing.remediation
    fixable = podnetworking_crd(snap(target="2.0.1", crd_source="cni-vpc-crds"))
    assert fixable.migration == "uk8s.apply-podnetworking-crd" and "cni-vpc-crds" in fixable.remediation
    assert podnetworking_crd(snap(target="2.0.1", podnetworking_crd=PODNETWORKING)).passed
    unserved = {**PODNETWORKING, "spec": {**PODNETWORKING["spec"], "versions": [{"name": "v1alpha1", "served": True}]}}
    assert "does not serve v1beta1" in podnetworking_crd(snap(target="2.0.1", podnetworking_crd=unserved)).message


def uk8s_spec(target: str, **uk8s) -> UpgradePlanSpec:
    return UpgradePlanSpec.model_validate({"plugin": "uk8s-cni-vpc", "targetVersion": target,
                                           "namespace": "kube-system", "uk8s": uk8s})


def cluster_with(versions: dict[str, str], *extra: dict, config_maps: tuple[dict, ...] = ()) -> FakeCluster:
    labels = {"app": "cni-vpc-node"}
    pods = [{"metadata": {"name": f"cni-vpc-node-{n}", "namespace": "kube-system", "labels": labels},
             "spec": {"nodeName": n, "containers": [
                 {"name": "cni-vpc-node", "image": f"uhub.service.ucloud.cn/uk8s/cni-vpc-node:{v}"}]}}
            for n, v in versions.items()]
    ds = {"metadata": {"name": "cni-vpc-node", "namespace": "kube-system"},
          "spec": {"selector": {"matchLabels": labels}}}
    return FakeCluster({"daemonsets": [ds], "pods": pods, "customresourcedefinitions": list(extra),
                        "configmaps": list(config_maps)})


def test_the_profile_reads_each_node_and_the_crd_for_a_2_x_target():
    plan = uk8s_spec("2.0.1", maintainedKubernetesMinors=["1.36"], crdSourceConfigMap="cni-vpc-crds")
    report = plugin_for(plan).preflight(plan, cluster_with({"n1": "1.2.0", "n2": "1.2.0", "n3": "dev-1"}),
                                        {}, [])
    assert report.installed_version == "1.2.0" and set(report.excluded_nodes) == {"n3"}
    found = {f.check_id: f for f in report.verdict.findings}
    assert found["uk8s.breaking-2.0.0"].needs_approval
    assert found["uk8s.podnetworking-crd"].migration == "uk8s.apply-podnetworking-crd"
    assert plugin_for(plan).cluster_wide_changes(plan, ["uk8s.apply-podnetworking-crd"]) == (
        "migration uk8s.apply-podnetworking-crd: the PodNetworking CustomResourceDefinition (cluster-scoped)",)
    installed = plugin_for(plan).preflight(plan, cluster_with({"n1": "1.2.0"}, PODNETWORKING), {}, [])
    assert next(f for f in installed.verdict.findings if f.check_id == "uk8s.podnetworking-crd").passed


def config_map(name: str, **data: str) -> dict:
    return {"metadata": {"name": name, "namespace": "ops"}, "data": data}


def test_the_migration_applies_only_the_vendors_crds_from_the_configmap():
    plan = uk8s_spec("2.0.1", crdSourceConfigMap="cni-vpc-crds")
    good = cluster_with({}, config_maps=(config_map("cni-vpc-crds", **{"podnetworking.yaml": yaml.safe_dump(
        PODNETWORKING)}),))
    said = plugin_for(plan).migrate("uk8s.apply-podnetworking-crd", plan, "ops", good, good)
    assert good.writes == [("apply", "customresourcedefinitions", "podnetworkings.vpc.uk8s.ucloud.cn")]
    assert "podnetworkings.vpc.uk8s.ucloud.cn" in said
    foreign = {**PODNETWORKING, "metadata": {"name": "evil.example.com"}, "spec": {"group": "example.com"}}
    bad = cluster_with({}, config_maps=(config_map("cni-vpc-crds", **{
        "a.yaml": yaml.safe_dump(PODNETWORKING), "b.yaml": yaml.safe_dump(foreign)}),))
    with pytest.raises(MigrationError, match="only vpc.uk8s.ucloud.cn CRDs"):
        plugin_for(plan).migrate("uk8s.apply-podnetworking-crd", plan, "ops", bad, bad)
    assert bad.writes == []  # vetted before any is applied
    with pytest.raises(MigrationError, match="not found"):
        plugin_for(plan).migrate("uk8s.apply-podnetworking-crd", plan, "ops", cluster_with({}), cluster_with({}))
    with pytest.raises(MigrationError, match="crdSourceConfigMap is not set"):
        plugin_for(plan).migrate("uk8s.apply-podnetworking-crd", uk8s_spec("2.0.1"), "ops", good, good)
