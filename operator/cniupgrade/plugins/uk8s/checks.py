"""UK8S cni-vpc pre-flight checks (pure) and the post-upgrade report of pods that predate their node's upgrade.

Every comparison of cni-vpc tags goes through plugins/uk8s/versions.py (date tags before 1.0.0, the -lts line,
dev builds unordered)."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from cniupgrade.plugins.uk8s import facts, headroom
from cniupgrade.plugins.uk8s.versions import at_least, lts_move_refusal, uk8s_version
from cniupgrade.preflight.framework import Check, Finding, Severity, parse_version


@dataclass(frozen=True)
class Uk8sSnapshot:
    kubernetes_version: str  # e.g. v1.34.2
    target: str  # the target tag, e.g. 1.3.0 or 1.0.4-lts
    node_versions: Mapping[str, str | None] = field(default_factory=dict)  # node -> installed tag, None: unreadable
    maintained_minors: tuple[str, ...] = ()
    force: bool = False
    allow_downgrade: bool = False
    podnetworking_crd: Mapping | None = None  # the PodNetworking CRD, when installed
    crd_source: str | None = None  # spec.uk8s.crdSourceConfigMap: the operator can apply CRDs from it
    restarts_old_pods: bool = False  # spec.uk8s.restartOldPods
    restart_headroom: headroom.Headroom | None = None  # the restart's IPs against ipamd's pools (None: no ipamd)

    @property
    def installed(self) -> str | None:
        return installed_version(self.node_versions)


def installed_version(node_versions: Mapping[str, str | None]) -> str | None:
    """The version most nodes run (of those with a release tag); on a tie the oldest, whose notes apply."""
    counts = Counter(v for v in node_versions.values() if uk8s_version(v))
    return min(counts, key=lambda v: (-counts[v], uk8s_version(v))) if counts else None


def minor_of(kubernetes_version: str) -> str:
    parsed = parse_version(kubernetes_version)  # Kubernetes' own version, not a cni-vpc tag
    return f"{parsed.major}.{parsed.minor}" if parsed else kubernetes_version


def unreadable(snap: Uk8sSnapshot) -> list[str]:
    """Nodes whose installed version cannot be read: no pod there, or a tag with no place in the releases
    (dev-<sha>)."""
    return sorted(n for n, v in snap.node_versions.items() if uk8s_version(v) is None)


def nodes_newer_than_target(snap: Uk8sSnapshot) -> list[str]:
    target = uk8s_version(snap.target)
    return [] if target is None else sorted(
        n for n, v in snap.node_versions.items() if (version := uk8s_version(v)) and version > target)


def nodes_at_target(snap: Uk8sSnapshot) -> list[str]:
    target = uk8s_version(snap.target)
    return [] if target is None else sorted(n for n, v in snap.node_versions.items() if uk8s_version(v) == target)


def crosses(snap: Uk8sSnapshot, release: str) -> bool:
    """Whether the upgrade takes some node from before `release` to it or later. Nodes whose version is unknown
    are assumed to be before it (the note may apply)."""
    target, floor = uk8s_version(snap.target), uk8s_version(release)
    if target is None or target < floor:
        return False
    versions = [uk8s_version(v) for v in snap.node_versions.values()]
    return not versions or any(v is None or v < floor for v in versions)


# ---- the checks ---------------------------------------------------------------------------------------

def target_version(snap: Uk8sSnapshot) -> Finding:
    if uk8s_version(snap.target) is not None:
        return Finding("uk8s.target-version", Severity.error, True, f"{snap.target} is a cni-vpc release tag")
    if snap.force:
        return Finding("uk8s.target-version", Severity.info, True,
                       f"{snap.target} is no cni-vpc release tag; upgraded to anyway (spec.uk8s.force)")
    return Finding("uk8s.target-version", Severity.error, False,
                   f"{snap.target} is no cni-vpc release tag (YY.MM.patch, x.y.z or x.y.z-lts; a dev build?): it "
                   f"cannot be ordered against the installed versions",
                   "use a released tag (e.g. 1.3.0, 1.0.4-lts), or set spec.uk8s.force: true to upgrade to it anyway")


def lts_only(snap: Uk8sSnapshot) -> Finding:
    minor = minor_of(snap.kubernetes_version)
    if not snap.maintained_minors:
        return Finding("uk8s.lts-only", Severity.warning, False,
                       f"cannot tell whether Kubernetes {minor} is maintained by UK8S (a cluster on an unmaintained "
                       f"version may only move along the -lts versions)",
                       "set spec.uk8s.maintainedKubernetesMinors to the minors UK8S maintains (see UK8S's cluster "
                       "version maintenance page)")
    if minor in snap.maintained_minors:
        return Finding("uk8s.lts-only", Severity.error, True, f"Kubernetes {minor} is maintained by UK8S")
    refusal = lts_move_refusal(snap.installed, snap.target)
    if refusal is None:
        return Finding("uk8s.lts-only", Severity.error, True,
                       f"Kubernetes {minor} is not maintained, and {snap.target} moves forward on the LTS line")
    return Finding("uk8s.lts-only", Severity.error, False,
                   f"Kubernetes {minor} is not maintained by UK8S ({', '.join(snap.maintained_minors)} are): the "
                   f"CNI may only move forward along the -lts versions, and {refusal}",
                   "choose a later -lts target (e.g. 1.0.4-lts), or upgrade the cluster to a maintained version first")


def node_downgrade(snap: Uk8sSnapshot) -> Finding:
    """A node newer than the target would be downgraded, even when most nodes are older."""
    newer = nodes_newer_than_target(snap)
    if not newer:
        return Finding("uk8s.node-downgrade", Severity.error, True, f"no node runs a version newer than {snap.target}")
    if snap.allow_downgrade:
        return Finding("uk8s.node-downgrade", Severity.info, True,
                       f"{len(newer)} node(s) newer than {snap.target} are downgraded (spec.allowDowngrade)",
                       objects=tuple(f"{n} ({snap.node_versions[n]})" for n in newer))
    return Finding("uk8s.node-downgrade", Severity.error, False,
                   f"{len(newer)} node(s) run a version newer than the target {snap.target}: for them the upgrade "
                   f"is a downgrade", "check spec.targetVersion; to roll them back on purpose set "
                   "spec.allowDowngrade: true", tuple(f"{n} ({snap.node_versions[n]})" for n in newer))


def nodes_already_at_target(snap: Uk8sSnapshot) -> Finding:
    at_target = nodes_at_target(snap)
    if not at_target:
        return Finding("uk8s.nodes-at-target", Severity.info, True, f"no node runs {snap.target} yet")
    return Finding("uk8s.nodes-at-target", Severity.info, True,
                   f"{len(at_target)} node(s) already run {snap.target} (their agent is replaced with the "
                   f"DaemonSet's new revision)", objects=tuple(at_target))


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


def multi_subnet_breaking(snap: Uk8sSnapshot) -> Finding:
    """2.0.0 is marked breaking (`feat!`): the admin approves crossing it, even without spec.requireApproval."""
    return Finding("uk8s.breaking-2.0.0", Severity.warning, False,
                   f"cni-vpc {facts.MULTI_SUBNET_RELEASE} is a breaking release (multi-subnet): the 2.x CNI reads "
                   f"the cluster-scoped PodNetworking ({facts.PODNETWORKING_CRD}) named by a pod's annotation (or "
                   f"'default') at every pod network setup, and a missing custom one blocks pod creation; cnivpctl "
                   f"lost its get, pop, push and release commands",
                   "review the plan, scripts that call cnivpctl get/pop/push/release, and the PodNetworkings pods "
                   "name; then set spec.approved: true", needs_approval=True,
                   after_upgrade="pods naming a custom PodNetworking need it to exist, with subnetIds (and "
                                 "securityGroupIds where the node has a security group)")


def podnetworking_crd(snap: Uk8sSnapshot) -> Finding:
    served = [v.get("name") for v in ((snap.podnetworking_crd or {}).get("spec") or {}).get("versions") or []
              if v.get("served")]
    if facts.PODNETWORKING_VERSION in served:
        return Finding("uk8s.podnetworking-crd", Severity.error, True,
                       f"the PodNetworking CRD serves {facts.PODNETWORKING_VERSION}")
    by_hand = "kubectl apply -f deploy/podnetworking.yaml (from uk8s-cni-vpc at the target tag)"
    missing = "is missing" if snap.podnetworking_crd is None else f"does not serve {facts.PODNETWORKING_VERSION}"
    return Finding("uk8s.podnetworking-crd", Severity.error, False,
                   f"the PodNetworking CRD {missing}: the 2.x agents read it at every pod setup, so it is installed "
                   f"before the first one rolls",
                   f"the operator applies the CRD in ConfigMap {snap.crd_source}; by hand: {by_hand}"
                   if snap.crd_source else
                   f"put the target's deploy/podnetworking.yaml in a ConfigMap beside the plan and name it in "
                   f"spec.uk8s.crdSourceConfigMap, or apply it by hand: {by_hand}",
                   (facts.PODNETWORKING_CRD,),
                   migration=facts.APPLY_PODNETWORKING_CRD if snap.crd_source else None)


ALWAYS = (
    Check("uk8s.target-version", "the target is a release", target_version, order=-1),
    Check("uk8s.lts-only", "LTS-only on unmaintained Kubernetes", lts_only, order=0),
    Check("uk8s.node-downgrade", "nodes newer than the target", node_downgrade, order=1),
    Check("uk8s.nodes-at-target", "nodes already at the target", nodes_already_at_target, order=2),
    Check("uk8s.unreadable-versions", "nodes with unreadable versions", unreadable_versions, order=10),
)
CROSSING_2_0_0 = (Check("uk8s.breaking-2.0.0", "2.0.0 is breaking", multi_subnet_breaking, order=20),)
TARGET_2_X = (Check("uk8s.podnetworking-crd", "the PodNetworking CRD", podnetworking_crd, order=21),)


def ip_headroom(snap: Uk8sSnapshot) -> Finding:
    return headroom.check(snap.restart_headroom)


RESTARTS = (Check(headroom.CHECK_ID, "free IPs for restarting old pods", ip_headroom, order=30),)


def checks_for(snap: Uk8sSnapshot) -> tuple[Check, ...]:
    """The checks that apply to this upgrade: the version notes only when it reaches their release."""
    return (ALWAYS + (CROSSING_2_0_0 if crosses(snap, facts.MULTI_SUBNET_RELEASE) else ())
            + (TARGET_2_X if at_least(snap.target, facts.MULTI_SUBNET_RELEASE) else ())
            + (RESTARTS if snap.restarts_old_pods else ()))


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
