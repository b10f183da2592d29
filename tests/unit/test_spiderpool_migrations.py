"""Deriving the labels of an auto pool created before 0.3.6."""
from __future__ import annotations

import pytest

from cniupgrade.plugins.spiderpool.migrations import CannotDerive, new_auto_pool_labels

WORKLOADS = [{"kind": "Deployment", "metadata": {"namespace": "team-a", "name": "web-api", "uid": "u-1"}},
             {"kind": "Deployment", "metadata": {"namespace": "team", "name": "a-web-api", "uid": "u-2"}},
             {"kind": "StatefulSet", "metadata": {"namespace": "db", "name": "pg", "uid": "u-3"}}]


def pool(old: str, uid: str | None = None, version: int = 4, subnet: str = "172.100.0.0/16", **labels) -> dict:
    lbl = {"ipam.spidernet.io/owner-application": old, **labels}
    if uid:
        lbl["ipam.spidernet.io/owner-application-uid"] = uid
    return {"metadata": {"name": "auto-x", "labels": lbl}, "spec": {"ipVersion": version, "subnet": subnet}}


def test_the_uid_resolves_names_that_dashes_make_ambiguous():
    labels = new_auto_pool_labels(pool("deployment-team-a-web-api", uid="u-2"), WORKLOADS)
    assert labels == {"ipam.spidernet.io/owner-application-gv": "apps_v1",
                      "ipam.spidernet.io/owner-application-kind": "Deployment",
                      "ipam.spidernet.io/owner-application-namespace": "team",
                      "ipam.spidernet.io/owner-application-name": "a-web-api",
                      "ipam.spidernet.io/interface": "eth0", "ipam.spidernet.io/ip-version": "IPv4",
                      "ipam.spidernet.io/ippool-cidr": "172-100-0-0-16"}


def test_without_a_uid_an_ambiguous_name_is_refused_and_a_unique_one_resolves():
    with pytest.raises(CannotDerive, match="ambiguous"):
        new_auto_pool_labels(pool("deployment-team-a-web-api"), WORKLOADS)
    labels = new_auto_pool_labels(pool("statefulset-db-pg", version=6, subnet="fd00:10::/64"), WORKLOADS)
    assert labels["ipam.spidernet.io/owner-application-kind"] == "StatefulSet"
    assert labels["ipam.spidernet.io/ip-version"] == "IPv6"
    assert labels["ipam.spidernet.io/ippool-cidr"] == "fd00-10---64"


def test_labels_already_right_are_not_repeated():
    done = pool("statefulset-db-pg", **{"ipam.spidernet.io/interface": "eth0"})
    assert "ipam.spidernet.io/interface" not in new_auto_pool_labels(done, WORKLOADS)


def test_unknown_kinds_and_gone_owners_are_clear_errors():
    with pytest.raises(CannotDerive, match="unknown owner kind"):
        new_auto_pool_labels(pool("pod-default-x"), WORKLOADS)
    with pytest.raises(CannotDerive, match="not found"):
        new_auto_pool_labels(pool("deployment-gone-app", uid="u-9"), WORKLOADS)
