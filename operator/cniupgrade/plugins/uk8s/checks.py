"""UK8S cni-vpc pre-flight checks (pure) and the post-upgrade report of pods that predate their node's upgrade."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from cniupgrade.plugins.uk8s import facts
from cniupgrade.preflight.framework import Check, Finding, Severity, parse_version


@dataclass(frozen=True)
class Uk8sSnapshot:
    kubernetes_version: str  # e.g. v1.34.2
    target: str  # the target tag, e.g. 1.3.0 or 1.0.4-lts
    node_versions: Mapping[str, str | None] = field(default_factory=dict)  # node -> installed tag, None: unreadable
    maintained_minors: tuple[str, ...] = ()
    force: bool = False


def minor_of(version: str) -> str:
    parsed = parse_version(version)
    return f"{parsed.major}.{parsed.minor}" if parsed else version


def unreadable(snap: Uk8sSnapshot) -> list[str]:
    """Nodes whose installed version cannot be read: no pod there, or a tag that is not a version (dev-<sha>)."""
    return sorted(n for n, v in snap.node_versions.items() if v is None or parse_version(v) is None)


def lts_only(snap: Uk8sSnapshot) -> Finding:
    minor = minor_of(snap.kubernetes_version)
    if not snap.maintained_minors:
        return Finding("uk8s.lts-only", Severity.warning, False,
                       f"cannot tell whether Kubernetes {minor} is maintained by UK8S (a cluster on an unmaintained "
                       f"version may only move to an -lts version)",
                       "set spec.uk8s.maintainedKubernetesMinors to the minors UK8S maintains (see UK8S's cluster "
                       "version maintenance page)")
    if minor in snap.maintained_minors or snap.target.endswith(facts.LTS_SUFFIX):
        return Finding("uk8s.lts-only", Severity.error, True,
                       f"Kubernetes {minor} is maintained, or the target is an LTS version")
    return Finding("uk8s.lts-only", Severity.error, False,
                   f"Kubernetes {minor} is not maintained by UK8S ({', '.join(snap.maintained_minors)} are): the "
                   f"CNI may only move to an -lts version, not {snap.target}",
                   "choose an -lts target (e.g. 1.0.4-lts), or upgrade the cluster to a maintained version first")


def unreadable_versions(snap: Uk8sSnapshot) -> Finding:
    nodes = unreadable(snap)
    if not nodes:
        return Finding("uk8s.unreadable-versions", Severity.warning, True, "every node's CNI version is known")
    if snap.force:
        return Finding("uk8s.unreadable-versions", Severity.info, True,
                       f"{len(nodes)} node(s) with an unreadable version are upgraded anyway (spec.uk8s.force)",
                       objects=tuple(nodes))
    return Finding("uk8s.unreadable-versions", Severity.warning, False,
                   f"{len(nodes)} node(s) have no readable CNI version and are left out of the plan",
                   "check them (/opt/cni/bin/cnivpc version on the node), or set spec.uk8s.force: true to upgrade "
                   "them anyway", tuple(nodes))


CHECKS = (
    Check("uk8s.lts-only", "LTS-only on unmaintained Kubernetes", lts_only, order=0),
    Check("uk8s.unreadable-versions", "nodes with unreadable versions", unreadable_versions, order=10),
)


@dataclass(frozen=True)
class PodRef:
    namespace: str
    name: str
    node: str
    created: dt.datetime
    owner: tuple[str, str] | None  # (kind, name) of the workload to restart, when known


def old_pods(pods: Iterable[PodRef], upgraded_at: Mapping[str, dt.datetime]) -> list[PodRef]:
    """Pods on an upgraded node created before that node's upgrade finished: they keep the old network setup."""
    return sorted((p for p in pods if p.node in upgraded_at and p.created < upgraded_at[p.node]),
                  key=lambda p: (p.namespace, p.name))


def workloads_to_restart(pods: Iterable[PodRef]) -> list[tuple[str, str, str]]:
    """(kind, namespace, name) of each distinct owner, in a stable order."""
    return sorted({(p.owner[0], p.namespace, p.owner[1]) for p in pods if p.owner})
