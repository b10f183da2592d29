"""Spiderpool 0.3.x stored its objects as v1; 0.4.0+ CRDs serve only v2beta1. On the real API server: what goes
wrong without the move, that a preview names it and changes nothing, and that a plan moves every object (over
several list pages) before it applies the v2beta1-only CRDs, even when the move is killed half-way."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from cniupgrade.kube import cluster as kube_cluster
from cniupgrade.plugins.spiderpool.storage_move import StorageVersionMove
from localcluster.waiting import wait_for
from simulated.spiderpool import seed, seed_v1
from tests.e2e.conftest import E2E_NODES, OPERATOR_NAMESPACE
from tests.e2e.kit import Plans

GROUP = seed.GROUP
PAGE_SIZE = 4  # every list below spans several pages
POOLS, ENDPOINTS = 23, 14
CRD_NAMES = [f"{plural}.{GROUP}" for plural in seed_v1.KINDS]
REFUSED = ('status.storedVersions[0]: Invalid value: "v1": missing from spec.versions; v1 was previously a storage '
           'version, and must remain in spec.versions until a storage migration ensures no data remains persisted '
           'in v1 and removes v1 from status.storedVersions')
STRANDED = "request to convert CR from an invalid group/version: spiderpool.spidernet.io/v1"


@pytest.fixture
def v1_install(admin_api, namespace):
    seed_v1.remove_crds(admin_api)  # an earlier test's v2beta1 CRDs
    created = seed_v1.seed_v1(admin_api, namespace, E2E_NODES, POOLS, ENDPOINTS)
    yield created
    seed_v1.remove_crds(admin_api)


@pytest.fixture
def small_pages(operator):
    """The operator lists PAGE_SIZE objects a page."""
    saved = dict(operator.env)
    operator.stop()
    operator.env = {**saved, "CNIUPGRADE_PAGE_SIZE": str(PAGE_SIZE)}
    operator.start()
    yield operator
    operator.stop()
    operator.env = saved
    operator.start()


def crd(admin_api, name: str) -> dict:
    return json.loads(client.ApiextensionsV1Api(admin_api).read_custom_resource_definition(
        name, _preload_content=False).data)


def stored_in_etcd(cluster) -> dict[str, str]:
    """Each Spiderpool object's key in etcd -> the apiVersion it is stored as (read from etcd itself)."""
    prefix = f"/registry/{GROUP}/".encode()
    end = prefix[:-1] + bytes([prefix[-1] + 1])
    body = json.dumps({"key": base64.b64encode(prefix).decode(), "range_end": base64.b64encode(end).decode()})
    url = f"http://127.0.0.1:{cluster.state.ports['etcd']}/v3/kv/range"
    found = json.load(urllib.request.urlopen(urllib.request.Request(url, body.encode()), timeout=10))
    return {base64.b64decode(kv["key"]).decode(): json.loads(base64.b64decode(kv["value"]))["apiVersion"]
            for kv in found.get("kvs", [])}


def read_all(admin_api, version: str) -> dict[str, list[str]]:
    """Every Spiderpool object, listed through `version` a few at a time."""
    custom, found = client.CustomObjectsApi(admin_api), {}
    for plural in seed_v1.KINDS:
        names, token = [], None
        while True:
            page = custom.list_cluster_custom_object(GROUP, version, plural, limit=PAGE_SIZE, _continue=token)
            names += [f"{o['metadata']['namespace']}/{o['metadata']['name']}" if o["metadata"].get("namespace")
                      else o["metadata"]["name"] for o in page["items"]]
            token = page["metadata"].get("continue")
            if not token:
                break
        found[plural] = sorted(names)
    return found


def target_crds(only: str | None = None) -> list[dict]:
    docs = [d for d in yaml.safe_load_all((seed.HERE / "target-crds-v2beta1.yaml").read_text()) if d]
    return [d for d in docs if only is None or d["metadata"]["name"] == only]


def test_without_the_move_the_api_server_refuses_the_crds_and_objects_left_at_v1_are_lost(admin_api, v1_install):
    """What the check and the migration are for, as the API server says it."""
    ext = client.ApiextensionsV1Api(admin_api)
    for name in CRD_NAMES:
        assert crd(admin_api, name)["status"]["storedVersions"] == ["v1"]
        with pytest.raises(ApiException) as refused:  # the vendor's upgrade: kubectl apply of the new crds/
            ext.patch_custom_resource_definition(name, target_crds(name)[0], field_manager="test", force=True,
                                                 _content_type="application/apply-patch+yaml")
        assert refused.value.status == 422 and REFUSED in json.loads(refused.value.body)["message"]
    # Forcing storedVersions without writing the objects again: the CRD is accepted, the objects are gone from reach.
    name = f"spiderreservedips.{GROUP}"
    v1 = crd(admin_api, name)["spec"]["versions"][0]
    ext.patch_custom_resource_definition(name, {"spec": {"versions": [
        {**v1, "name": "v2beta1", "storage": True}, {**v1, "storage": False}]}})
    ext.patch_custom_resource_definition_status(name, {"status": {"storedVersions": ["v2beta1"]}})
    ext.patch_custom_resource_definition(name, target_crds(name)[0], field_manager="test", force=True,
                                         _content_type="application/apply-patch+yaml")

    def list_fails() -> ApiException | None:
        try:
            client.CustomObjectsApi(admin_api).list_cluster_custom_object(GROUP, "v2beta1", "spiderreservedips")
        except ApiException as exc:
            return exc
        return None  # the API server may still serve from the storage it had a moment ago
    assert STRANDED in json.loads(wait_for(list_fails, 10, "the v1-only objects unreadable").body)["message"]
    # (Nor could the CRD be deleted: its clean-up cannot list them.) Serving v1 again brings them back.
    ext.patch_custom_resource_definition(name, {"spec": {"versions": [
        {**v1, "name": "v2beta1", "storage": True}, {**v1, "storage": False}]}})
    assert wait_for(lambda: not list_fails(), 10, "the objects readable again")


def test_a_preview_names_the_crds_and_their_objects_and_changes_nothing(admin_api, namespace, cluster, v1_install,
                                                                       tmp_path):
    before = {n: crd(admin_api, n) for n in CRD_NAMES}
    etcd_before = stored_in_etcd(cluster)
    assert len(etcd_before) == POOLS + ENDPOINTS + 2 + 3 and set(etcd_before.values()) == {f"{GROUP}/v1"}
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan",
                                    "metadata": {"name": "up", "namespace": namespace},
                                    "spec": {"plugin": "spiderpool", "targetVersion": "0.9.5",
                                             "namespace": namespace}}))
    out = subprocess.run([sys.executable, "-m", "cniupgrade", "plan", "-f", str(plan)], capture_output=True, text=True,
                         env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig),
                              "CNIUPGRADE_PAGE_SIZE": str(PAGE_SIZE)}, timeout=60)
    printed = out.stdout
    assert "spiderpool 0.3.5 -> 0.9.5" in printed, out.stderr
    line = next(l for l in printed.splitlines() if " spiderpool.stored-versions: " in l)
    assert line.strip().startswith("[Failed ] Error") and f"({POOLS + ENDPOINTS + 5} object(s) may be" in line
    assert REFUSED[:60] in line
    assert (f"objects: spiderendpoints.{GROUP}: {ENDPOINTS} object(s), spiderippools.{GROUP}: {POOLS} object(s), "
            f"spiderreservedips.{GROUP}: 3 object(s), spidersubnets.{GROUP}: 2 object(s)") in printed
    text = printed.split("checks (in the vendor's order):", 1)[1]
    assert text.index(" spiderpool.stored-versions: ") < text.index(" spiderpool.missing-crds: ")
    # nothing changed: the CRDs and every object are as they were, still stored as v1
    for name, was in before.items():
        now = crd(admin_api, name)
        assert now["metadata"]["resourceVersion"] == was["metadata"]["resourceVersion"]
        assert now["status"]["storedVersions"] == ["v1"]
    assert stored_in_etcd(cluster) == etcd_before


def test_a_plan_moves_every_object_to_v2beta1_before_it_applies_the_v2beta1_only_crds(
        admin_api, namespace, cluster, v1_install, small_pages):
    """From a trusted namespace: the operator's own RBAC (deploy/rbac.yaml) makes the changes."""
    core = client.CoreV1Api(admin_api)
    source = f"spiderpool-crds-{namespace}"
    core.create_namespaced_config_map(OPERATOR_NAMESPACE, {"metadata": {"name": source}, "data": {
        "a-existing-kinds.yaml": (seed.HERE / "target-crds-v2beta1.yaml").read_text(),
        "b-new-kinds.yaml": (seed.HERE / "target-crds.yaml").read_text()}})
    plans, name = Plans(admin_api, OPERATOR_NAMESPACE), f"storage-{namespace}"
    plans.custom.create_namespaced_custom_object("cniupgrade.io", "v1alpha1", OPERATOR_NAMESPACE, "upgradeplans", {
        "apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan", "metadata": {"name": name},
        "spec": {"plugin": "spiderpool", "targetVersion": "0.9.5", "namespace": namespace,
                 "spiderpool": {"crdSourceConfigMap": source}, "rollout": {"maxUnavailable": 8},
                 # another note (default SpiderCoordinator, < 0.6.0) with its own migration and test
                 "preflight": {"skip": ["spiderpool.default-objects"]}}})
    try:
        status = plans.wait_phase("Succeeded", "Failed", "Preflight", name=name, timeout=180)
        assert status["phase"] == "Succeeded", (status.get("conditions"), small_pages.log_tail())
        events = sorted(core.list_namespaced_event(OPERATOR_NAMESPACE, field_selector=f"involvedObject.name={name}")
                        .items, key=lambda e: int(e.metadata.resource_version))
    finally:
        plans.delete(name)
        core.delete_namespaced_config_map(source, OPERATOR_NAMESPACE)
    applied = [e.message.split(":")[0] for e in events if e.reason == "MigrationApplied"]
    assert "MigrationFailed" not in [e.reason for e in events]
    assert applied.index("spiderpool.endpoint-owner-type-pod") < applied.index("spiderpool.storage-version-v2beta1") \
        < applied.index("spiderpool.apply-crds")
    moved = next(e.message for e in events if e.message.startswith("spiderpool.storage-version-v2beta1:"))
    assert f"spiderippools.{GROUP} ({POOLS} object(s))" in moved and f"spiderendpoints.{GROUP} ({ENDPOINTS}" in moved

    for crd_name in CRD_NAMES:  # the target's CRDs, v2beta1 only, and nothing left stored as v1
        now = crd(admin_api, crd_name)
        assert now["status"]["storedVersions"] == ["v2beta1"], crd_name
        assert [v["name"] for v in now["spec"]["versions"]] == ["v2beta1"], crd_name
    assert read_all(admin_api, "v2beta1") == {plural: sorted(names) for plural, names in v1_install.items()}
    assert set(stored_in_etcd(cluster).values()) == {f"{GROUP}/v2beta1"}
    endpoint = client.CustomObjectsApi(admin_api).get_namespaced_custom_object(GROUP, "v2beta1", namespace,
                                                                               "spiderendpoints", "db-0")
    assert endpoint["status"]["ownerControllerType"] == "Pod"
    checks = {c["id"]: c["result"] for c in status["checks"]}
    assert checks["spiderpool.stored-versions"] == "Passed"  # the checks ran again after the migrations


class Killed(BaseException):
    """The operator died here (no `except Exception` on the way catches it)."""


class KilledAt:
    """The plan's writes, dying at write number `at` (counted from 0) as a killed operator would."""

    def __init__(self, cluster: kube_cluster.KubeCluster, at: int):
        self.cluster, self.at, self.writes = cluster, at, 0

    def patch(self, *args, **kw) -> None:
        if self.writes == self.at:
            raise Killed(f"write {self.at}")
        self.writes += 1
        self.cluster.patch(*args, **kw)


# SpiderIPPools come first: write 0 makes v2beta1 their storage version, 1..POOLS write the pools, POOLS+1 drops
# their v1; SpiderSubnets next (POOLS+2 their CRD, POOLS+3 the first subnet)
@pytest.mark.parametrize("kill_at", [0, 1, POOLS // 2, POOLS, POOLS + 1, POOLS + 3])
def test_a_move_killed_at_any_point_is_finished_by_the_next_run(admin_api, namespace, cluster, v1_install, kill_at,
                                                               monkeypatch):
    monkeypatch.setattr(kube_cluster, "PAGE_SIZE", PAGE_SIZE)
    operator = kube_cluster.KubeCluster(admin_api)
    with pytest.raises(Killed):
        StorageVersionMove(operator, KilledAt(operator, kill_at)).run()
    stored = stored_in_etcd(cluster)
    for crd_name in CRD_NAMES:  # nothing is stranded meanwhile: objects still stored as v1 keep v1 listed
        plural = crd_name.split(".")[0]
        if any(key.split("/")[3] == plural and v.endswith("/v1") for key, v in stored.items()):
            assert "v1" in crd(admin_api, crd_name)["status"]["storedVersions"], (kill_at, crd_name)
    message = StorageVersionMove(operator, operator).run()
    assert message.startswith("objects stored as v2beta1")
    assert set(stored_in_etcd(cluster).values()) == {f"{GROUP}/v2beta1"}
    assert all(crd(admin_api, n)["status"]["storedVersions"] == ["v2beta1"] for n in CRD_NAMES)
    ext = client.ApiextensionsV1Api(admin_api)
    for doc in target_crds():  # the target's CRDs are accepted now, and every object reads through them
        ext.patch_custom_resource_definition(doc["metadata"]["name"], doc, field_manager="test", force=True,
                                             _content_type="application/apply-patch+yaml")
    assert wait_for(lambda: read_all(admin_api, "v2beta1"), 10, "v2beta1 served") == {
        plural: sorted(names) for plural, names in v1_install.items()}
