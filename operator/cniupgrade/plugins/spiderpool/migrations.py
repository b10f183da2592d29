"""The pure part of Spiderpool's migrations: what an old auto pool's new labels are."""
from __future__ import annotations

from typing import Iterable, Mapping

from cniupgrade.plugins.spiderpool import facts

# old label kinds (lower case) -> (owner-application-gv, owner-application-kind)
WORKLOAD_KINDS = {
    "deployment": ("apps_v1", "Deployment"), "statefulset": ("apps_v1", "StatefulSet"),
    "daemonset": ("apps_v1", "DaemonSet"), "replicaset": ("apps_v1", "ReplicaSet"),
    "job": ("batch_v1", "Job"), "cronjob": ("batch_v1", "CronJob"),
}


class CannotDerive(ValueError):
    pass


def cidr_label(subnet: str) -> str:
    return subnet.replace(".", "-").replace(":", "-").replace("/", "-")


def owner_of(pool: Mapping, workloads: Iterable[Mapping]) -> tuple[str, str, str]:
    """(kind, namespace, name) of an old auto pool's owner: by its UID label, else by the old name label."""
    labels = pool["metadata"].get("labels") or {}
    old = labels.get(facts.OLD_AUTO_POOL_LABEL, "")
    kind_lower, _, rest = old.partition("-")
    if kind_lower not in WORKLOAD_KINDS:
        raise CannotDerive(f"{pool['metadata']['name']}: unknown owner kind in {old!r}")
    uid = labels.get(facts.OWNER_UID_LABEL)
    candidates = [w for w in workloads if w["kind"].lower() == kind_lower]
    by_uid = [w for w in candidates if uid and w["metadata"].get("uid") == uid]
    by_name = [w for w in candidates if f"{w['metadata']['namespace']}-{w['metadata']['name']}".lower() == rest]
    found = by_uid or by_name
    if len(found) != 1:
        raise CannotDerive(f"{pool['metadata']['name']}: owner {old!r} not found (or ambiguous) among live workloads")
    owner = found[0]
    return owner["kind"], owner["metadata"]["namespace"], owner["metadata"]["name"]


def new_auto_pool_labels(pool: Mapping, workloads: Iterable[Mapping], interface: str = "eth0") -> dict[str, str]:
    """The labels 0.3.6+ expects on an auto pool created by an older version."""
    kind, namespace, name = owner_of(pool, workloads)
    gv, canonical_kind = WORKLOAD_KINDS[kind.lower()]
    spec = pool.get("spec") or {}
    labels = {
        "ipam.spidernet.io/owner-application-gv": gv,
        "ipam.spidernet.io/owner-application-kind": canonical_kind,
        "ipam.spidernet.io/owner-application-namespace": namespace,
        "ipam.spidernet.io/owner-application-name": name,
        "ipam.spidernet.io/interface": interface,  # before 0.3.6 SpiderSubnet served one interface
        "ipam.spidernet.io/ip-version": "IPv6" if spec.get("ipVersion") == 6 else "IPv4",
    }
    if spec.get("subnet"):
        labels["ipam.spidernet.io/ippool-cidr"] = cidr_label(spec["subnet"])
    existing = pool["metadata"].get("labels") or {}
    return {k: v for k, v in labels.items() if existing.get(k) != v}
