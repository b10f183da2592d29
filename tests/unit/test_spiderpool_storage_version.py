"""Objects Spiderpool < 0.4.0 stored as v1: the check names them, and the move to v2beta1 finishes whatever point
it was killed at, against a fake that keeps storage versions the way the API server does."""
from __future__ import annotations

import copy

import pytest
from packaging.version import Version

from cniupgrade.plugins.spiderpool import checks, facts
from cniupgrade.plugins.spiderpool.reader import SpiderpoolReader
from cniupgrade.plugins.spiderpool.storage_move import StorageVersionMove
from cniupgrade.plugins.spiderpool.storage_version import serving_both, stored_versions_after
from cniupgrade.plugins.spiderpool.stored_versions_check import v1_stored
from cniupgrade.preflight.framework import evaluate
from cniupgrade.seams.cluster import CRDS, Resource
from tests.unit.fake_cluster import FakeCluster

SCHEMA = {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object"}}}}


def v1_crd(plural: str) -> dict:
    return {"metadata": {"name": f"{plural}.{facts.GROUP}", "resourceVersion": "1"},
            "spec": {"group": facts.GROUP, "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": SCHEMA, "subresources": {"status": {}}}]},
            "status": {"storedVersions": ["v1"]}}


class Killed(Exception):
    """The operator died here."""


class ApiServerLike:
    """CRDs and Spiderpool objects as the API server keeps them: each object stored at the version its last write
    used; storedVersions grows when the storage version changes and shrinks only through /status; a CRD without a
    version still in storedVersions is refused; an object stored at a version no longer in spec.versions makes
    every list fail. `kill_at`: the write that raises Killed instead (counted from 0)."""

    def __init__(self, objects: dict[str, int], page: int = 3):
        self.crds = {f"{p}.{facts.GROUP}": v1_crd(p) for p in objects}
        self.stored = {(p, f"{p[:-1]}-{i}"): "v1" for p, n in objects.items() for i in range(n)}
        self.page, self.writes, self.kill_at, self.pages_read = page, 0, None, {}

    def _crd(self, plural: str) -> dict:
        return self.crds[f"{plural}.{facts.GROUP}"]

    def _served(self, resource: Resource) -> bool:
        crd = self.crds.get(f"{resource.plural}.{facts.GROUP}")
        return crd is not None and any(v["name"] == resource.version and v["served"] for v in crd["spec"]["versions"])

    def readable(self, plural: str) -> bool:
        names = {v["name"] for v in self._crd(plural)["spec"]["versions"]}
        return all(version in names for (p, _), version in self.stored.items() if p == plural)

    def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict | None:
        if resource == CRDS:
            return copy.deepcopy(self.crds.get(name))
        return {"metadata": {"name": name}} if (resource.plural, name) in self.stored else None

    def pages(self, resource: Resource, namespace=None, label_selector=None):
        assert self._served(resource), f"{resource} not served"
        if not self.readable(resource.plural):
            raise RuntimeError("request to convert CR from an invalid group/version")
        names = sorted(n for p, n in self.stored if p == resource.plural)
        for start in range(0, max(len(names), 1), self.page):
            self.pages_read[resource.plural] = self.pages_read.get(resource.plural, 0) + 1
            yield [{"metadata": {"name": n}} for n in names[start:start + self.page]]

    def serves(self, resource: Resource) -> bool:
        return self._served(resource)

    def patch(self, resource: Resource, name: str, namespace, body: dict, subresource: str | None = None) -> None:
        if self.writes == self.kill_at:
            raise Killed(f"write {self.writes}")
        self.writes += 1
        if resource != CRDS:
            assert body == {}
            self.stored[(resource.plural, name)] = next(
                v["name"] for v in self._crd(resource.plural)["spec"]["versions"] if v["storage"])
            return
        crd = self.crds[name]
        assert body["metadata"]["resourceVersion"] == crd["metadata"]["resourceVersion"], "409 Conflict"
        new = copy.deepcopy(crd)
        if subresource == "status":
            new["status"]["storedVersions"] = body["status"]["storedVersions"]
        else:
            new["spec"].update(body["spec"])
            storage = next(v["name"] for v in new["spec"]["versions"] if v["storage"])
            if storage not in new["status"]["storedVersions"]:
                new["status"]["storedVersions"].append(storage)
        missing = set(new["status"]["storedVersions"]) - {v["name"] for v in new["spec"]["versions"]}
        assert not missing, f"status.storedVersions {missing}: missing from spec.versions"
        new["metadata"]["resourceVersion"] = str(int(crd["metadata"]["resourceVersion"]) + 1)
        self.crds[name] = new


SEEDED = {"spiderippools": 7, "spiderendpoints": 5, "spidersubnets": 0, "spiderreservedips": 2}


def assert_moved(server: ApiServerLike) -> None:
    for plural in SEEDED:
        crd = server._crd(plural)
        assert crd["status"]["storedVersions"] == ["v2beta1"], plural
        assert {v for (p, _), v in server.stored.items() if p == plural} <= {"v2beta1"}, plural
        # what the target's v2beta1-only CRD then looks like: every object still readable
        crd["spec"]["versions"] = [v for v in crd["spec"]["versions"] if v["name"] == "v2beta1"]
        assert server.readable(plural), plural


def move(server: ApiServerLike) -> str:
    return StorageVersionMove(server, server, sleep=lambda s: None).run()


def test_every_object_is_written_at_v2beta1_before_v1_leaves_stored_versions():
    server = ApiServerLike(SEEDED, page=3)
    message = move(server)
    assert f"spiderippools.{facts.GROUP} (7 object(s))" in message and "(0 object(s))" in message
    assert server.pages_read == {"spiderippools": 3, "spiderendpoints": 2, "spidersubnets": 1,
                                 "spiderreservedips": 1}  # one paged list each, 3 objects a page
    versions = server._crd("spiderippools")["spec"]["versions"]
    assert [(v["name"], v["served"], v["storage"]) for v in versions] == [("v2beta1", True, True),
                                                                         ("v1", True, False)]
    assert server._crd("spiderippools")["spec"]["conversion"] == {"strategy": "None"}
    assert_moved(server)


def test_a_second_run_changes_nothing():
    server = ApiServerLike(SEEDED)
    move(server)
    writes = server.writes
    assert move(server) == "no Spiderpool CRD lists v1 in status.storedVersions"
    assert server.writes == writes


def test_killed_at_any_write_the_next_run_finishes_the_move():
    total = ApiServerLike(SEEDED)
    move(total)
    for kill_at in range(total.writes):
        server = ApiServerLike(SEEDED)
        server.kill_at = kill_at
        with pytest.raises(Killed):
            move(server)
        for (plural, _), version in server.stored.items():  # nothing stranded meanwhile
            if version == "v1":
                assert "v1" in server._crd(plural)["status"]["storedVersions"], (kill_at, plural)
        server.kill_at = None
        move(server)
        assert_moved(server)


def test_an_object_deleted_after_the_list_is_skipped():
    server = ApiServerLike({"spiderippools": 4})
    patch = server.patch

    def deleted_meanwhile(resource, name, namespace, body, subresource=None):
        if name == "spiderippool-2":
            server.stored.pop(("spiderippools", name))
            raise RuntimeError("404 Not Found")
        patch(resource, name, namespace, body, subresource)
    server.patch = deleted_meanwhile
    assert "(3 object(s))" in move(server)
    assert server._crd("spiderippools")["status"]["storedVersions"] == ["v2beta1"]


def test_serving_both_keeps_v1_definition_for_v2beta1_and_nothing_when_v2beta1_stores():
    crd = v1_crd("spiderippools")
    versions = serving_both(crd)
    assert versions[0] == {**crd["spec"]["versions"][0], "name": "v2beta1", "served": True, "storage": True}
    assert versions[1]["name"] == "v1" and versions[1]["served"] and not versions[1]["storage"]
    crd["spec"]["versions"] = versions
    assert serving_both(crd) is None
    assert stored_versions_after({"status": {"storedVersions": ["v1", "v2beta1"]}}) == ["v2beta1"]


def snap(**kw) -> checks.SpiderpoolSnapshot:
    return checks.SpiderpoolSnapshot(namespace="kube-system", target=Version(kw.pop("target", "0.9.5")), **kw)


def test_the_check_names_each_crd_with_its_objects_and_points_to_the_migration():
    found = v1_stored(snap(v1_stored={f"spiderippools.{facts.GROUP}": 7, f"spiderendpoints.{facts.GROUP}": 5}))
    assert not found.passed and found.migration == "spiderpool.storage-version-v2beta1"
    assert found.objects == (f"spiderendpoints.{facts.GROUP}: 5 object(s)", f"spiderippools.{facts.GROUP}: 7 object(s)")
    assert "12 object(s)" in found.message and "missing from spec.versions" in found.message
    assert v1_stored(snap()).passed
    assert v1_stored(snap(v1_stored={f"spiderippools.{facts.GROUP}": 7}, target="0.3.7")).passed  # still serves v1


def test_the_move_runs_before_the_target_crds_are_applied():
    stale = snap(v1_stored={f"spiderippools.{facts.GROUP}": 1}, crd_source="crds")  # CRDs missing, a source set
    verdict = evaluate(checks.CHECKS, stale, Version("0.3.5"), Version("0.9.5"))
    migrations = [f.migration for f in verdict.migrations()]
    assert "spiderpool.apply-crds" in migrations
    assert migrations.index("spiderpool.storage-version-v2beta1") < migrations.index("spiderpool.apply-crds")


def test_the_reader_counts_the_objects_of_crds_storing_v1():
    moved = {**v1_crd("spiderendpoints"), "status": {"storedVersions": ["v2beta1"]}}
    cluster = FakeCluster({"customresourcedefinitions": [v1_crd("spiderippools"), moved],
                           "spiderippools": [{"metadata": {"name": f"p{i}"}} for i in range(5)],
                           "spiderendpoints": [{"metadata": {"name": "e", "namespace": "a"}}]},
                          page=2, served_versions=frozenset({"v1"}))
    assert SpiderpoolReader(cluster).v1_stored() == {f"spiderippools.{facts.GROUP}": 5}
