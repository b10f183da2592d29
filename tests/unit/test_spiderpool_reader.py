"""The Spiderpool pre-flight lists SpiderEndpoints namespace by namespace in several lists at once, pools and
pods beside them, page by page; without leave to list namespaces, in one cluster-wide list."""
from __future__ import annotations

import json
from types import SimpleNamespace

from kubernetes.client.rest import ApiException

from cniupgrade.kube import client as kube_client
from cniupgrade.kube.spiderpool import ENDPOINT_STREAMS, SpiderpoolReader


def paged(items: list[dict], limit: int, token: str | None) -> SimpleNamespace:
    start = int(token or 0)
    rest = str(start + limit) if start + limit < len(items) else None
    return SimpleNamespace(data=json.dumps({"metadata": {"continue": rest}, "items": items[start:start + limit]}))


def endpoint(namespace: int, i: int, owner_type: str = "Pod") -> dict:
    return {"metadata": {"name": f"web-{i:04d}", "namespace": f"ns-{namespace}"},
            "status": {"ownerControllerType": owner_type,
                       "current": {"ips": [{"ipv4": f"10.{namespace}.{i // 250}.{i % 250}/8"}]}}}


class FakeCustom:
    def __init__(self, endpoints: dict[str, list[dict]]):
        self.endpoints, self.calls = endpoints, []

    def list_cluster_custom_object(self, group, version, plural, limit, _continue=None, _preload_content=False):
        self.calls.append(("cluster", plural))
        if version != "v2beta1":
            raise ApiException(status=404)
        items = [e for ns in sorted(self.endpoints) for e in self.endpoints[ns]] if plural == "spiderendpoints" \
            else []
        return paged(items, limit, _continue)

    def list_namespaced_custom_object(self, group, version, namespace, plural, limit, _continue=None,
                                      _preload_content=False):
        self.calls.append((namespace, plural))
        return paged(self.endpoints.get(namespace, []), limit, _continue)


class FakeCore:
    def __init__(self, namespaces: list[str] | None):
        self.namespaces = namespaces

    def list_namespace(self, limit, _continue=None, _preload_content=False):
        if self.namespaces is None:
            raise ApiException(status=403, reason="Forbidden")
        return paged([{"metadata": {"name": n}} for n in self.namespaces], limit, _continue)

    def list_pod_for_all_namespaces(self, limit, _continue=None, _preload_content=False):
        return paged([], limit, _continue)


def reader(namespaces: list[str] | None, endpoints: dict[str, list[dict]]) -> SpiderpoolReader:
    found = SpiderpoolReader.__new__(SpiderpoolReader)
    found.core, found.custom = FakeCore(namespaces), FakeCustom(endpoints)
    return found


ENDPOINTS = {f"ns-{n}": [endpoint(n, i, "None" if i % 50 == 0 else "Pod") for i in range(120 * (n + 1))]
             for n in range(7)}


def test_endpoints_are_listed_namespace_by_namespace_in_several_lists_and_each_counted_once(monkeypatch):
    monkeypatch.setattr(kube_client, "PAGE", 40)
    found = reader(sorted(ENDPOINTS) + ["empty"], ENDPOINTS)
    scan = found.scan(None)
    total = sum(len(v) for v in ENDPOINTS.values())
    assert scan.none_owner_endpoints.count == sum(1 for v in ENDPOINTS.values() for e in v
                                                  if e["status"]["ownerControllerType"] == "None")
    assert scan.none_owner_endpoints.names == sorted(f"{e['metadata']['namespace']}/{e['metadata']['name']}"
                                                     for v in ENDPOINTS.values() for e in v
                                                     if e["status"]["ownerControllerType"] == "None")[:20]
    assert scan.ips.duplicates().ips == 0
    listed = {ns for ns, plural in found.custom.calls if plural == "spiderendpoints" and ns != "cluster"}
    assert listed == set(ENDPOINTS) | {"empty"} and ENDPOINT_STREAMS > 1 and total > 40
    scan.ips.close()


def test_without_leave_to_list_namespaces_one_cluster_wide_list_finds_the_same(monkeypatch):
    monkeypatch.setattr(kube_client, "PAGE", 40)
    found = reader(None, ENDPOINTS)
    scan = found.scan(None)
    assert scan.none_owner_endpoints.count == sum(1 for v in ENDPOINTS.values() for e in v
                                                  if e["status"]["ownerControllerType"] == "None")
    assert ("cluster", "spiderendpoints") in found.custom.calls
    assert not [c for c in found.custom.calls if c[0] != "cluster"]
    scan.ips.close()
