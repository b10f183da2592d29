"""The UK8S cni-vpc profile: the LTS-only rule, unreadable versions, images, and pods that predate the upgrade."""
from __future__ import annotations

import datetime as dt

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.seams.plugin import plugin_for
from tests.unit.builders import target_images
from cniupgrade.plugins.uk8s.checks import (PodRef, Uk8sSnapshot, lts_only, old_pods, unreadable_versions,
                                            workloads_to_restart)

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
