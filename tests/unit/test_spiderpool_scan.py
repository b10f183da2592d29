"""The streaming scan keeps counts and the first names, and finds duplicate IPs on disk, not in lists."""
from __future__ import annotations

from packaging.version import Version

from cniupgrade.plugins.spiderpool import checks, facts
from cniupgrade.plugins.spiderpool.scan import ClusterScan


def endpoint(i: int, ip: str, owner_type: str = "Pod") -> dict:
    return {"metadata": {"name": f"web-{i:05d}", "namespace": "app"},
            "status": {"ownerControllerType": owner_type, "current": {"ips": [{"ipv4": f"{ip}/16"}]}}}


def test_counts_every_match_and_names_only_the_first_twenty():
    endpoints = (endpoint(i, f"10.{i // 250}.{i % 250}.1", "None" if i % 100 == 0 else "Pod") for i in range(5000))
    scan = ClusterScan.of({}, endpoints=endpoints)
    assert scan.none_owner_endpoints.count == 50
    assert scan.none_owner_endpoints.names == [f"app/web-{i:05d}" for i in range(0, 2000, 100)]
    assert scan.ips.duplicates().ips == 0


def test_the_named_sample_is_the_first_twenty_by_name_in_whatever_order_they_come():
    endpoints = [endpoint(i, f"10.{i // 250}.{i % 250}.1", "None") for i in range(100)]
    scan = ClusterScan.of({}, endpoints=reversed(endpoints))
    assert scan.none_owner_endpoints.count == 100
    assert scan.none_owner_endpoints.names == [f"app/web-{i:05d}" for i in range(20)]
    scan.ips.close()


def test_duplicates_are_counted_exactly_with_a_sample_of_pods_and_ips():
    # 3000 endpoints; the last 30 reuse the IPs of the first 30 (the <=0.9.4 GC bug)
    endpoints = [endpoint(i, f"10.1.{i // 250}.{i % 250}") for i in range(2970)]
    endpoints += [endpoint(3000 + i, f"10.1.0.{i}") for i in range(30)]
    scan = ClusterScan.of({}, endpoints=endpoints)
    found = scan.ips.duplicates()
    assert found.ips == 30 and found.pods.count == 60
    assert len(found.detail) == 10 and found.detail[0] == ("10.1.0.0", ("app/web-00000", "app/web-03000"))
    assert found.pods.names == sorted(found.pods.names) and len(found.pods.names) == 20
    finding = checks.duplicate_ips(checks.SpiderpoolSnapshot("kube-system", Version("0.9.5"), scan=scan))
    assert not finding.passed and finding.message.startswith("30 IP(s) are held by more than one pod")
    assert "restart the 60 pod(s)" in finding.remediation
    scan.ips.close()


def test_a_pool_owner_is_one_holder_however_often_it_is_listed():
    pool = {"metadata": {"name": "p", "labels": {facts.OLD_AUTO_POOL_LABEL: "deployment-app-web"}},
            "status": {"allocatedIPs": '{"10.6.0.10": {"pod": "app/web-00001"}}'}}
    scan = ClusterScan.of({}, ippools=[pool], endpoints=[endpoint(1, "10.6.0.10")])
    assert scan.ips.duplicates().ips == 0 and scan.stale_auto_pools.names == ["p"]
