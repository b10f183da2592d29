"""Helm as a real part: the CLI built from Go modules drives the test charts (served over loopback HTTP) on the
real control plane through kube/helm_cli.py, and the Spiderpool plugin reads the release real helm stored."""
from __future__ import annotations

import pytest
from kubernetes import client

from cniupgrade.kube.cluster import KubeCluster
from cniupgrade.kube.helm_cli import HelmCli, HelmError
from cniupgrade.plugins.spiderpool.reader import SpiderpoolReader
from localcluster import build


@pytest.fixture
def helm(cluster) -> HelmCli:
    return HelmCli(build.ensure_helm(), cluster.kubeconfig)


def agent(api, namespace: str):
    return client.AppsV1Api(api).read_namespaced_daemon_set("spiderpool-agent", namespace)


def test_the_chart_installs_upgrades_and_rolls_back_and_the_plugin_reads_the_release(
        admin_api, namespace, chart_repo, helm):
    assert helm.version().startswith("v3.22.0")
    user_values = {"ipam": {"enableSpiderSubnet": True}, "spiderpoolController": {"replicas": 2}}
    helm.upgrade("spiderpool", namespace, "spiderpool", "0.9.5", user_values, repo=chart_repo.url, install=True)
    assert [(r.revision, r.status, r.chart) for r in helm.history("spiderpool", namespace)] == [
        (1, "deployed", "spiderpool-0.9.5")]
    assert helm.values("spiderpool", namespace) == user_values
    assert [c.name for c in agent(admin_api, namespace).spec.template.spec.init_containers] == ["install-plugins"]

    release = SpiderpoolReader(KubeCluster(admin_api)).release(namespace, "spiderpool")  # decoded without helm
    assert release.app_version == "0.9.5" and release.value("ipam.enableSpiderSubnet") is True

    rendered = helm.template("spiderpool", namespace, "spiderpool", "1.0.0", {"ipam": {"spiderSubnet": {
        "enable": True}}}, repo=chart_repo.url)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in rendered}
    assert ("ConfigMap", "spiderpool-multus-entrypoint") in kinds  # new at 1.0.0
    helm.upgrade("spiderpool", namespace, "spiderpool", "1.0.0", {"ipam": {"spiderSubnet": {"enable": True}}},
                 repo=chart_repo.url)
    assert [r.chart for r in helm.history("spiderpool", namespace)] == ["spiderpool-0.9.5", "spiderpool-1.0.0"]
    live = agent(admin_api, namespace).spec.template.spec
    assert [c.name for c in live.init_containers] == ["install-plugins", "install-multus-binary"]
    manifest = {(d["kind"], d["metadata"]["name"]): d for d in helm.manifest("spiderpool", namespace)}
    ds = manifest[("DaemonSet", "spiderpool-agent")]
    assert [c["image"] for c in ds["spec"]["template"]["spec"]["containers"]] == [c.image for c in live.containers]
    conf = client.CoreV1Api(admin_api).read_namespaced_config_map("spiderpool-conf", namespace)
    assert conf.data["conf.yml"].strip() == "enableSpiderSubnet: true"  # the renamed key carried the value

    helm.rollback("spiderpool", namespace, 1)
    assert helm.history("spiderpool", namespace)[-1].chart == "spiderpool-0.9.5"
    assert [c.name for c in agent(admin_api, namespace).spec.template.spec.init_containers] == ["install-plugins"]


def test_helm_errors_carry_helms_message(namespace, chart_repo, helm):
    with pytest.raises(HelmError, match="9.9.9"):
        helm.template("spiderpool", namespace, "spiderpool", "9.9.9", repo=chart_repo.url)
    assert helm.history("no-such-release", namespace) == []
