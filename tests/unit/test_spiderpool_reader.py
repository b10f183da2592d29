"""The Spiderpool pre-flight lists SpiderEndpoints namespace by namespace in several lists at once, pools and
pods beside them, page by page; without leave to list namespaces, in one cluster-wide list."""
from __future__ import annotations

from cniupgrade.plugins.spiderpool.reader import ENDPOINT_STREAMS, SpiderpoolReader
from tests.unit.fake_cluster import FakeCluster


def endpoint(namespace: int, i: int, owner_type: str = "Pod") -> dict:
    return {"metadata": {"name": f"web-{i:04d}", "namespace": f"ns-{namespace}"},
            "status": {"ownerControllerType": owner_type,
                       "current": {"ips": [{"ipv4": f"10.{namespace}.{i // 250}.{i % 250}/8"}]}}}


def reader(namespaces: list[str] | None, endpoints: dict[str, list[dict]]) -> tuple[SpiderpoolReader, FakeCluster]:
    objects = {"spiderendpoints": [e for ns in sorted(endpoints) for e in endpoints[ns]],
               "namespaces": [{"metadata": {"name": n}} for n in namespaces or []]}
    cluster = FakeCluster(objects, forbidden=frozenset() if namespaces is not None else frozenset({"namespaces"}))
    return SpiderpoolReader(cluster), cluster


ENDPOINTS = {f"ns-{n}": [endpoint(n, i, "None" if i % 50 == 0 else "Pod") for i in range(120 * (n + 1))]
             for n in range(7)}


def test_endpoints_are_listed_namespace_by_namespace_in_several_lists_and_each_counted_once():
    found, cluster = reader(sorted(ENDPOINTS) + ["empty"], ENDPOINTS)
    scan = found.scan(None)
    total = sum(len(v) for v in ENDPOINTS.values())
    assert scan.none_owner_endpoints.count == sum(1 for v in ENDPOINTS.values() for e in v
                                                  if e["status"]["ownerControllerType"] == "None")
    assert scan.none_owner_endpoints.names == sorted(f"{e['metadata']['namespace']}/{e['metadata']['name']}"
                                                     for v in ENDPOINTS.values() for e in v
                                                     if e["status"]["ownerControllerType"] == "None")[:20]
    assert scan.ips.duplicates().ips == 0
    listed = {ns for plural, ns in cluster.lists if plural == "spiderendpoints" and ns is not None}
    assert listed == set(ENDPOINTS) | {"empty"} and ENDPOINT_STREAMS > 1 and total > 40
    scan.ips.close()


def test_without_leave_to_list_namespaces_one_cluster_wide_list_finds_the_same():
    found, cluster = reader(None, ENDPOINTS)
    scan = found.scan(None)
    assert scan.none_owner_endpoints.count == sum(1 for v in ENDPOINTS.values() for e in v
                                                  if e["status"]["ownerControllerType"] == "None")
    assert ("spiderendpoints", None) in cluster.lists
    assert not [c for c in cluster.lists if c[0] == "spiderendpoints" and c[1] is not None]
    scan.ips.close()
