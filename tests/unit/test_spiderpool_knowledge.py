"""Spiderpool object knowledge (issue 23): fields 1.0.0's CRDs rename or drop, the defaults a pre-0.6.0 install
never got, the 1.0.0 chart's pre-delete hook, and migrations that wait for a Ready controller."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

import cniupgrade.kube.helm_cli as helm_cli
from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.kube.helm_cli import HelmCli, HelmError
from cniupgrade.plugins.helm import HelmRelease, encode_release
from cniupgrade.plugins.spiderpool import checks, facts, object_checks, objects_1_0
from cniupgrade.plugins.spiderpool.migrator import SpiderpoolMigrator
from cniupgrade.plugins.spiderpool.reader import SpiderpoolReader
from cniupgrade.plugins.spiderpool.scan import ClusterScan
from cniupgrade.plugins.spiderpool.snapshot import SpiderpoolSnapshot
from cniupgrade.preflight.framework import Severity, evaluate
from cniupgrade.seams.plugin import MigrationError
from tests.unit.fake_cluster import FakeCluster

NS = "kube-system"
ANN = objects_1_0.RECORD_ANNOTATION


def smc(name="sriov-rdma", annotations=None, **spec):
    return {"metadata": {"name": name, "namespace": NS, "resourceVersion": "7", "annotations": annotations or {}},
            "spec": spec or {"cniType": "sriov", "sriov": {"resourceName": "x", "enableRdma": True}}}


def pool(name="vlan-100", vlan=100):
    return {"metadata": {"name": name, "resourceVersion": "3"},
            "spec": {"ipVersion": 4, "subnet": "10.0.0.0/24", **({"vlan": vlan} if vlan is not None else {})}}


def crd(plural, spec_properties: dict) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{facts.GROUP}"},
            "spec": {"group": facts.GROUP, "versions": [{"name": "v2beta1", "storage": True, "schema": {
                "openAPIV3Schema": {"type": "object", "properties": {"spec": {
                    "type": "object", "properties": spec_properties}}}}}]}}


SMC_0_9 = crd("spidermultusconfigs", {"sriov": {"type": "object", "properties": {"enableRdma": {"type": "boolean"}}},
                                      "ibsriov": {"type": "object", "properties": {
                                          "ibKubernetesEnabled": {"type": "boolean"}}}})
SMC_1_0 = crd("spidermultusconfigs", {"sriov": {"type": "object", "properties": {"rdmaIsolation": {"type": "boolean"}}},
                                      "ibsriov": {"type": "object", "properties": {
                                          "enableIbKubernetes": {"type": "boolean"}}}})
POOL_1_0 = crd("spiderippools", {"ipVersion": {"type": "integer"}, "subnet": {"type": "string"}})


class Recording(FakeCluster):
    """Keeps the manifests applied, not only their names."""
    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.manifests: list[dict] = []

    def apply(self, resource, manifest: dict) -> None:
        super().apply(resource, manifest)
        self.manifests.append(manifest)


def release(values=None, version="0.9.5") -> HelmRelease:
    return HelmRelease("spiderpool", 2, "deployed", version, version, values or {})


def snap(target="1.0.0", ippools=(), spiders=(), crds=None, **kw) -> SpiderpoolSnapshot:
    scan = ClusterScan.of({}, ippools, spiders=spiders)
    return SpiderpoolSnapshot(namespace=NS, target=Version(target), scan=scan, crds=crds or {}, **kw)


def controller(ready=1) -> dict:
    return {"metadata": {"name": facts.CONTROLLER_DEPLOYMENT, "namespace": NS}, "spec": {"replicas": 1},
            "status": {"readyReplicas": ready}}


def spec(target="1.0.0", **spiderpool) -> UpgradePlanSpec:
    return UpgradePlanSpec.model_validate({"plugin": "spiderpool", "targetVersion": target, "namespace": NS,
                                           "spiderpool": spiderpool})


# ---- 1.0.0's renamed and dropped fields --------------------------------------------------------------------

def test_old_fields_are_recorded_then_renamed_ones_written_under_their_new_names():
    old = smc(ibsriov={"ibKubernetesEnabled": True}, sriov={"enableRdma": False})
    assert objects_1_0.unrecorded("spidermultusconfigs", old) == {"spec.ibsriov.ibKubernetesEnabled": True,
                                                                  "spec.sriov.enableRdma": False}
    patch = objects_1_0.record_patch("spidermultusconfigs", old)
    assert patch["metadata"]["resourceVersion"] == "7"  # a concurrent change fails instead of being overwritten
    assert json.loads(patch["metadata"]["annotations"][ANN]) == {"spec.ibsriov.ibKubernetesEnabled": True,
                                                                 "spec.sriov.enableRdma": False}
    # the 1.0.0 CRDs pruned the old names; the record still holds them
    pruned = smc(annotations=patch["metadata"]["annotations"], cniType="sriov", sriov={"resourceName": "x"})
    assert objects_1_0.record_patch("spidermultusconfigs", pruned) is None
    assert objects_1_0.rename_patch("spidermultusconfigs", pruned) == {
        "metadata": {"resourceVersion": "7"},
        "spec": {"ibsriov": {"enableIbKubernetes": True}, "sriov": {"rdmaIsolation": False}}}
    # a value already set under the new name wins, and then nothing is pending
    done = {**pruned, "spec": {"sriov": {"rdmaIsolation": True}, "ibsriov": {"enableIbKubernetes": False}}}
    assert objects_1_0.rename_patch("spidermultusconfigs", done) is None


def test_dropped_fields_are_recorded_and_never_renamed():
    recorded = json.loads(objects_1_0.record_patch("spiderippools", pool())["metadata"]["annotations"][ANN])
    assert recorded == {"spec.vlan": 100}
    assert objects_1_0.pending_renames("spiderippools", pool()) == {}
    assert objects_1_0.unrecorded("spiderippools", pool(vlan=None)) == {}
    coordinator = {"metadata": {"name": "default", "resourceVersion": "1"},
                   "spec": {"detectGateway": True, "hostRPFilter": 0, "mode": "auto"}}
    assert objects_1_0.unrecorded("spidercoordinators", coordinator) == {"spec.detectGateway": True,
                                                                         "spec.hostRPFilter": 0}
    assert "ipam.enableGatewayDetection" in objects_1_0.describe("spidercoordinators", ["spec.detectGateway"])


def test_which_fields_a_crd_prunes():
    assert objects_1_0.pruned_by(SMC_1_0, "spidermultusconfigs") == ("spec.ibsriov.ibKubernetesEnabled",
                                                                     "spec.sriov.enableRdma")
    assert objects_1_0.pruned_by(SMC_0_9, "spidermultusconfigs") == ()
    assert objects_1_0.serves_new_names(SMC_1_0) and not objects_1_0.serves_new_names(SMC_0_9)
    assert objects_1_0.pruned_by(POOL_1_0, "spiderippools") == ("spec.vlan",)
    preserving = crd("spiderippools", {})
    preserving["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "x-kubernetes-preserve-unknown-fields"] = True
    assert objects_1_0.pruned_by(preserving, "spiderippools") == ()


def test_the_fields_check_walks_record_then_crds_then_rename():
    check = object_checks.fields_1_0
    assert check(snap(target="0.9.5", ippools=[pool()])).passed
    first = check(snap(ippools=[pool()], spiders=[("spidermultusconfigs", smc())]))
    assert not first.passed and first.migration == "spiderpool.rewrite-1.0-fields"
    assert first.objects == ("spiderippools vlan-100: spec.vlan",
                             f"spidermultusconfigs {NS}/sriov-rdma: spec.sriov.enableRdma")
    assert "ipam.enableGatewayDetection" in first.message and ANN in first.remediation
    recorded = smc(annotations={ANN: json.dumps({"spec.sriov.enableRdma": True})}, sriov={"resourceName": "x"})
    waiting = snap(spiders=[("spidermultusconfigs", recorded)], crds={facts.CRD_MULTUS_CONFIG: SMC_0_9},
                   crd_source="crds-1-0")
    assert check(waiting).migration == "spiderpool.apply-crds"
    no_source = check(snap(spiders=[("spidermultusconfigs", recorded)], crds={facts.CRD_MULTUS_CONFIG: SMC_0_9}))
    assert not no_source.passed and no_source.severity is Severity.warning and no_source.migration is None
    ready = check(snap(spiders=[("spidermultusconfigs", recorded)], crds={facts.CRD_MULTUS_CONFIG: SMC_1_0}))
    assert ready.migration == "spiderpool.rewrite-1.0-fields"
    assert check(snap(ippools=[pool(vlan=None)])).passed


def test_migrations_run_in_order_record_before_apply_crds_before_defaults():
    """A plan runs migrations in the order of its findings: the fields are recorded before the CRDs that prune
    them are applied, and the defaults are created once the CRDs exist."""
    cluster = snap(ippools=[pool()], crd_source="crds-1-0", release=release({}, "0.5.0"))
    verdict = evaluate(checks.CHECKS, cluster, Version("0.5.0"), Version("1.0.0"))
    order = list(dict.fromkeys(f.migration for f in verdict.migrations()))
    assert order.index("spiderpool.rewrite-1.0-fields") < order.index("spiderpool.apply-crds") \
        < order.index("spiderpool.create-default-objects")


def test_apply_crds_refuses_crds_that_would_prune_unrecorded_fields():
    source = {"metadata": {"name": "crds-1-0", "namespace": "plans"},
              "data": {"crds.yaml": yaml.safe_dump_all([SMC_1_0, POOL_1_0])}}
    unrecorded = FakeCluster({"configmaps": [source], "spidermultusconfigs": [smc()], "spiderippools": [pool()]})
    with pytest.raises(MigrationError, match="rewrite-1.0-fields must run first") as refused:
        SpiderpoolMigrator(spec(crdSourceConfigMap="crds-1-0"), "plans", unrecorded, unrecorded).run(
            "spiderpool.apply-crds")
    assert "spec.sriov.enableRdma" in str(refused.value) and "vlan-100 (spec.vlan)" in str(refused.value)
    assert unrecorded.writes == []
    annotated = [{**o, "metadata": {**o["metadata"], "annotations": {ANN: json.dumps(objects_1_0.old_fields(p, o))}}}
                 for p, o in (("spidermultusconfigs", smc()), ("spiderippools", pool()))]
    recorded = FakeCluster({"configmaps": [source], "spidermultusconfigs": annotated[:1],
                            "spiderippools": annotated[1:]})
    SpiderpoolMigrator(spec(crdSourceConfigMap="crds-1-0"), "plans", recorded, recorded).run("spiderpool.apply-crds")
    assert [w[0] for w in recorded.writes] == ["apply", "apply"]


def test_the_rewrite_records_every_kind_and_waits_for_a_ready_controller():
    objects = {"spiderippools": [pool()], "spidersubnets": [pool("subnet-100")],
               "spidermultusconfigs": [smc()], "deployments": [controller(ready=0)]}
    down = FakeCluster(objects)
    with pytest.raises(MigrationError, match=f"{facts.CONTROLLER_DEPLOYMENT} is not Ready .*0/1 Ready replicas"):
        SpiderpoolMigrator(spec(), "plans", down, down).run("spiderpool.rewrite-1.0-fields")
    assert down.writes == []
    up = FakeCluster({**objects, "deployments": [controller(ready=1)]})
    said = SpiderpoolMigrator(spec(), "plans", up, up).run("spiderpool.rewrite-1.0-fields")
    assert {(w[1], w[3]) for w in up.writes} == {("spiderippools", "vlan-100"), ("spidersubnets", "subnet-100"),
                                                 ("spidermultusconfigs", "sriov-rdma")}
    assert all(ANN in w[4]["metadata"]["annotations"] for w in up.writes) and "recorded" in said
    # with the 1.0.0 CRD in place, the recorded value is written under its new name
    recorded = smc(annotations={ANN: json.dumps({"spec.sriov.enableRdma": True})}, sriov={"resourceName": "x"})
    after = FakeCluster({"spidermultusconfigs": [recorded], "deployments": [controller()],
                         "customresourcedefinitions": [SMC_1_0]})
    SpiderpoolMigrator(spec(), "plans", after, after).run("spiderpool.rewrite-1.0-fields")
    assert after.writes[0][4]["spec"] == {"sriov": {"rdmaIsolation": True}}


def test_auto_pool_labels_are_not_patched_while_the_controller_is_down():
    old = {"metadata": {"name": "auto-deployment-default-web-v4-abc", "labels": {
        facts.OLD_AUTO_POOL_LABEL: "deployment-default-web"}}, "spec": {"ipVersion": 4}}
    cluster = FakeCluster({"spiderippools": [old]})  # no controller Deployment at all
    with pytest.raises(MigrationError, match=f"Deployment {NS}/{facts.CONTROLLER_DEPLOYMENT} not found"):
        SpiderpoolMigrator(spec(), "plans", cluster, cluster).run("spiderpool.add-auto-pool-labels")
    assert cluster.writes == []


def test_the_reader_streams_subnets_coordinators_and_multus_configs():
    cluster = FakeCluster({"spidersubnets": [pool("subnet-100")], "spidermultusconfigs": [smc()],
                           "spidercoordinators": [{"metadata": {"name": "default"}, "spec": {}}]})
    scan = SpiderpoolReader(cluster).scan(None)
    assert scan.old_fields.names == ["spidermultusconfigs kube-system/sriov-rdma: spec.sriov.enableRdma",
                                     "spidersubnets subnet-100: spec.vlan"]
    assert scan.coordinators == {"default"} and scan.multus_configs == {f"{NS}/sriov-rdma"}
    scan.ips.close()


# ---- defaults a pre-0.6.0 install never got ------------------------------------------------------------------

def test_missing_defaults_are_created_as_the_init_job_would():
    values = {"multus": {"multusCNI": {"defaultCniCRName": "k8s-pod-network"}}, "coordinator": {"mode": "overlay"}}
    finding = object_checks.default_objects(snap(release=release(values, "0.5.0")))
    assert finding.migration == "spiderpool.create-default-objects"
    assert finding.objects == ("SpiderCoordinator default", f"SpiderMultusConfig {NS}/k8s-pod-network")
    secret = {"metadata": {"name": "sh.helm.release.v1.spiderpool.v1", "namespace": NS,
                           "labels": {"owner": "helm", "name": "spiderpool", "status": "deployed"}},
              "data": {"release": encode_release(
                  {"name": "spiderpool", "version": 1, "info": {"status": "deployed"}, "config": values,
                   "chart": {"metadata": {"version": "0.5.0", "appVersion": "0.5.0"}}})}}
    cluster = Recording({"secrets": [secret]})
    said = SpiderpoolMigrator(spec(), "plans", cluster, cluster).run("spiderpool.create-default-objects")
    applied = {w[2]: w for w in cluster.writes}
    assert set(applied) == {"default", "calico"} and "created" in said
    coordinator = next(m for m in cluster.manifests if m["kind"] == "SpiderCoordinator")
    assert coordinator["spec"]["mode"] == "overlay" and coordinator["spec"]["podCIDRType"] == "auto"
    assert "detectGateway" not in coordinator["spec"]  # a 1.0.0 target: now the chart's ipam.enableGatewayDetection
    multus = next(m for m in cluster.manifests if m["kind"] == "SpiderMultusConfig")
    assert multus["metadata"] == {"name": "calico", "namespace": NS,
                                  "annotations": {"multus.spidernet.io/cr-name": "k8s-pod-network"}}
    assert multus["spec"] == {"cniType": "custom", "enableCoordinator": False}


def test_without_a_named_default_cni_the_check_says_which_value_names_it():
    finding = object_checks.default_objects(snap(release=release({"coordinator": {"enabled": False}}, "0.5.0")))
    assert not finding.passed and finding.severity is Severity.warning and finding.migration is None
    assert "multus.multusCNI.defaultCniCRName" in finding.remediation
    present = object_checks.default_objects(snap(
        release=release({}, "0.5.0"), spiders=[("spidercoordinators", {"metadata": {"name": "default"}}),
                                               ("spidermultusconfigs", smc("calico", cniType="custom"))]))
    assert present.passed


def test_defaults_are_fitted_to_the_installed_crd_schema():
    """A server-side apply of a field the CRD does not declare is refused (HTTP 500): such fields are left out."""
    narrow = crd("spidercoordinators", {"mode": {"type": "string"}, "tunePodRoutes": {"type": "boolean"}})
    cluster = Recording({"customresourcedefinitions": [narrow]})
    SpiderpoolMigrator(spec(target="0.9.5"), "plans", cluster, cluster).run("spiderpool.create-default-objects")
    assert cluster.manifests[0]["spec"] == {"mode": "auto", "tunePodRoutes": True}
    assert cluster.manifests[0]["metadata"] == {"name": "default"}


def test_creating_defaults_needs_the_crds():
    cluster = FakeCluster({}, served_versions=frozenset())
    with pytest.raises(MigrationError, match="spidercoordinators CRD is not installed"):
        SpiderpoolMigrator(spec(), "plans", cluster, cluster).run("spiderpool.create-default-objects")


# ---- the 1.0.0 chart's pre-delete hook -----------------------------------------------------------------------

def test_the_cleanup_hook_is_a_warning_naming_the_value():
    hook = object_checks.cleanup_hook
    on = hook(snap(release=release({})))
    assert not on.passed and on.severity is Severity.warning
    assert "spiderpoolController.cleanup.enable" in on.message and "uninstall" in on.message
    assert hook(snap(release=release({"spiderpoolController": {"cleanup": {"enable": False}}}))).passed
    assert hook(snap(target="0.9.5", release=release({}))).passed


def test_helm_uninstall_is_refused_and_no_call_site_asks_for_it(tmp_path):
    ran = tmp_path / "ran"
    script = tmp_path / "helm"
    script.write_text(f"#!/bin/sh\ntouch {ran}\n")
    script.chmod(0o755)
    helm = HelmCli(binary=script)
    for verb in ("uninstall", "delete", "del", "un"):
        with pytest.raises(HelmError, match="never uninstalls"):
            helm.run(verb, "spiderpool", "-n", NS)
    assert not ran.exists()
    # every helm subcommand the operator's helm layer spells out is one that keeps the release
    tree = ast.parse(Path(helm_cli.__file__).read_text())
    verbs = {call.args[0].value for call in ast.walk(tree) if isinstance(call, ast.Call)
             and isinstance(call.func, ast.Attribute) and call.func.attr == "run"
             and call.args and isinstance(call.args[0], ast.Constant)}
    assert verbs and not verbs & helm_cli.NEVER_RUN
