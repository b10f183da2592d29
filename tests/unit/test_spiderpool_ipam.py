"""Spiderpool IPAM health before a roll: free IPs per pool against the restarts duplicate IPs call for, IPs
allocated to no one (leaks), SpiderEndpoints whose pod is gone (orphans)."""
from __future__ import annotations

import json

from packaging.version import Version

from cniupgrade.plugins.spiderpool import checks
from cniupgrade.plugins.spiderpool.scan import ClusterScan
from cniupgrade.plugins.spiderpool.snapshot import SpiderpoolSnapshot

NS = "app"


def pool(name: str, allocated: dict[str, str], total: int | None = None) -> dict:
    status = {"allocatedIPs": json.dumps({ip: {"pod": pod, "podUid": "u"} for ip, pod in allocated.items()}),
              "allocatedIPCount": len(allocated)}
    if total is not None:
        status["totalIPCount"] = total
    return {"metadata": {"name": name}, "status": status}


def endpoint(name: str, ip: str, kind: str = "Deployment") -> dict:
    return {"metadata": {"name": name, "namespace": NS},
            "status": {"ownerControllerType": kind, "current": {"ips": [{"ipv4": f"{ip}/24"}]}}}


def pod(name: str, ip: str) -> dict:
    return {"metadata": {"name": name, "namespace": NS}, "spec": {}, "status": {"podIPs": [{"ip": ip}]}}


def snapshot(pools=(), endpoints=(), pods=()) -> SpiderpoolSnapshot:
    return SpiderpoolSnapshot(namespace=NS, target=Version("1.0.0"), scan=ClusterScan.of({}, pools, endpoints, pods))


def test_a_pool_short_of_ips_for_the_duplicate_holders_restart_is_named_with_its_numbers():
    # web-0 and web-1 both hold .10 (the <=0.9.4 GC bug); both are allocated in "full"; "roomy" has room
    snap = snapshot(pools=[pool("full", {"10.0.0.10": "app/web-0", "10.0.0.11": "app/web-1"}, total=3),
                           pool("roomy", {"10.1.0.5": "app/db-0"}, total=10)],
                    endpoints=[endpoint("web-0", "10.0.0.10"), endpoint("web-1", "10.0.0.10"),
                               endpoint("db-0", "10.1.0.5")],
                    pods=[pod("web-0", "10.0.0.10"), pod("web-1", "10.0.0.10"), pod("db-0", "10.1.0.5")])
    found = checks.ip_headroom(snap)
    assert not found.passed and "full (1 free, 2 needed)" in found.message and "roomy" not in found.message
    assert found.objects == ("full: 3 total, 2 allocated, 1 free, 2 needed",
                             "roomy: 10 total, 1 allocated, 9 free, 0 needed")  # the tightest first
    assert checks.ip_leaks(snap).passed and checks.orphan_endpoints(snap).passed


def test_enough_room_passes_and_a_pool_not_yet_counted_is_not_guessed():
    snap = snapshot(pools=[pool("a", {"10.0.0.10": "app/web-0", "10.0.0.11": "app/web-1"}, total=4),
                           pool("uncounted", {})],
                    endpoints=[endpoint("web-0", "10.0.0.10"), endpoint("web-1", "10.0.0.10")],
                    pods=[pod("web-0", "10.0.0.10"), pod("web-1", "10.0.0.10")])
    found = checks.ip_headroom(snap)
    assert found.passed and "2 free IP(s)" in found.message and "needs 2 (one per pod" in found.message
    assert found.objects == ("a: 4 total, 2 allocated, 2 free, 2 needed", "uncounted: ? total, 0 allocated, ? free, "
                             "0 needed")


def test_leaks_are_allocations_with_neither_endpoint_nor_pod():
    snap = snapshot(pools=[pool("p", {"10.0.0.1": "app/gone", "10.0.0.2": "app/starting", "10.0.0.3": "app/live"})],
                    endpoints=[endpoint("starting", "10.0.0.2")], pods=[pod("live", "10.0.0.3")])
    found = checks.ip_leaks(snap)
    assert not found.passed and found.objects == ("p 10.0.0.1 (app/gone)",) and "1 IP(s)" in found.message


def test_orphans_are_endpoints_without_their_pod_except_those_kept_on_purpose():
    snap = snapshot(endpoints=[endpoint("gone", "10.0.0.1"), endpoint("db-0", "10.0.0.2", kind="StatefulSet"),
                               endpoint("vm", "10.0.0.3", kind="VirtualMachineInstance"),
                               endpoint("live", "10.0.0.4")],
                    pods=[pod("live", "10.0.0.4")])
    found = checks.ip_leaks(snap)
    assert found.passed
    orphans = checks.orphan_endpoints(snap)
    assert not orphans.passed and orphans.objects == ("app/gone",)


def test_the_ledger_counts_past_what_it_names():
    endpoints = [endpoint(f"e{i:03d}", f"10.0.{i // 250}.{i % 250}") for i in range(150)]
    orphans = checks.orphan_endpoints(snapshot(endpoints=endpoints))
    assert "150 SpiderEndpoint(s)" in orphans.message and len(orphans.objects) == 20
    assert orphans.objects[0] == "app/e000"
