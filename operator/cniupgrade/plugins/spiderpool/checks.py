"""Spiderpool's version notes as pre-flight checks, each a pure function of a snapshot of the cluster.

Where the vendor guide is wrong, the finding says what is true (see shared/reference/spiderpool.md).
"""
from __future__ import annotations

from typing import Iterable, Mapping

from packaging.version import Version

from cniupgrade.plugins.helm import HelmRelease
from cniupgrade.plugins.spiderpool import facts, object_checks
from cniupgrade.plugins.spiderpool.snapshot import SpiderpoolSnapshot
from cniupgrade.plugins.spiderpool.stored_versions_check import v1_stored
from cniupgrade.plugins.spiderpool.value_changes import CHANGES as VALUES_CHANGES
from cniupgrade.plugins.spiderpool.values import changed_keys
from cniupgrade.preflight.framework import MAX_NAMED_OBJECTS, Check, Crossing, Finding, Severity, parse_version


def recorded_version(release: HelmRelease | None) -> str | None:
    """The Spiderpool version helm last installed (its chart's version is the same)."""
    if release is None:
        return None
    return release.app_version or release.chart_version or None


def running_version(tags: Iterable[str | None]) -> str | None:
    """The oldest version Spiderpool's images carry, in the DaemonSet's template and in its pods: after a rollout
    that stopped half-way most nodes still run the old one, and the notes apply from there."""
    readable = [(version, tag.lstrip("vV")) for tag in tags if (version := parse_version(tag))]
    return min(readable)[1] if readable else None


def installed_version(running: str | None, release: HelmRelease | None) -> str | None:
    """What runs, when the images say it; else what helm recorded. An upgrade done outside helm (an earlier
    UpgradePlan) leaves the release on the old chart, so the release alone would name a version long gone."""
    return running or recorded_version(release)


def host_ports(release: HelmRelease | None) -> dict[int, str]:
    """Spiderpool's host ports as the release configures them -> the values key that sets each."""
    return {(release.value(key, default) if release else default): key
            for key, default in {**facts.AGENT_PORTS, **facts.CONTROLLER_PORTS}.items()}


# ---- the notes, oldest first ----------------------------------------------------------------------------

def auto_pool_labels(snap: SpiderpoolSnapshot) -> Finding:
    """< 0.3.6: auto pools were named and labelled differently; old ones lack the labels 0.3.6+ looks up."""
    stale = snap.scan.stale_auto_pools
    if not stale.count:
        return Finding("spiderpool.auto-pool-labels", Severity.error, True, "no auto pool lacks the 0.3.6 labels")
    return Finding("spiderpool.auto-pool-labels", Severity.error, False,
                   f"{stale.count} auto pool(s) created before 0.3.6 lack the labels SpiderSubnet now looks up",
                   "the operator adds ipam.spidernet.io/owner-application-{gv,kind,namespace,name}, interface, "
                   "ip-version and ippool-cidr, derived from each pool's owner and spec", tuple(stale.names),
                   migration="spiderpool.add-auto-pool-labels")


def endpoint_owner_type(snap: SpiderpoolSnapshot) -> Finding:
    """< 0.4.0: a bare pod's SpiderEndpoint recorded ownerControllerType None; from 0.4.0 it must be Pod."""
    stale = snap.scan.none_owner_endpoints
    if not stale.count:
        return Finding("spiderpool.endpoint-owner-type", Severity.error, True,
                       "no SpiderEndpoint has ownerControllerType None")
    return Finding("spiderpool.endpoint-owner-type", Severity.error, False,
                   f"{stale.count} SpiderEndpoint(s) have status.ownerControllerType None, which 0.4.0+ reads as Pod",
                   "the operator patches status.ownerControllerType to Pod (the CRD has no status subresource: a "
                   "plain patch); by hand: kubectl -n <ns> patch se <name> --type merge "
                   "-p '{\"status\":{\"ownerControllerType\":\"Pod\"}}'", tuple(stale.names),
                   migration="spiderpool.endpoint-owner-type-pod")


def missing_crds(snap: SpiderpoolSnapshot) -> Finding:
    """<= 0.5.0: SpiderMultusConfig and SpiderCoordinator are new, and helm upgrade installs no CRDs."""
    missing = [c for c in (facts.CRD_MULTUS_CONFIG, facts.CRD_COORDINATOR) if c not in snap.crds]
    if not missing:
        return Finding("spiderpool.missing-crds", Severity.error, True, "SpiderMultusConfig and SpiderCoordinator "
                       "CRDs are installed")
    return Finding("spiderpool.missing-crds", Severity.error, False,
                   f"CRD(s) {', '.join(missing)} missing: helm upgrade does not install new CRDs",
                   _crd_remediation(snap), tuple(missing), migration=_crd_migration(snap))


def _crd_migration(snap: SpiderpoolSnapshot) -> str | None:
    return "spiderpool.apply-crds" if snap.crd_source else None


def _crd_remediation(snap: SpiderpoolSnapshot) -> str:
    by_hand = ("helm fetch spiderpool/spiderpool --version <target> && tar -xf spiderpool-<target>.tgz && "
               "kubectl apply -f spiderpool/crds/")
    if snap.crd_source:
        return f"the operator applies the CRDs in ConfigMap {snap.crd_source}; by hand: {by_hand}"
    return (f"put the target's CRD manifests in a ConfigMap beside the plan and name it in "
            f"spec.spiderpool.crdSourceConfigMap, or apply them by hand: {by_hand}")


def multus_uninstall(snap: SpiderpoolSnapshot) -> Finding:
    """<= 0.7.3: spiderpool-multus is gone; multus.multusCNI.uninstall must stay false while upgrading."""
    if snap.value("multus.multusCNI.uninstall") is not True:
        return Finding("spiderpool.multus-uninstall", Severity.warning, True,
                       "multus.multusCNI.uninstall is not set to true (its default is false from 0.7.0 on; the "
                       "vendor guide wrongly calls clean-up the default)")
    return Finding("spiderpool.multus-uninstall", Severity.warning, False,
                   "values set multus.multusCNI.uninstall=true: a later helm upgrade or uninstall may delete the "
                   "Multus CNI configuration and CRDs and break pod creation",
                   "set multus.multusCNI.uninstall=false in the release values (helm upgrade ... --set "
                   "multus.multusCNI.uninstall=false)", (f"helm release {snap.release.name}",))


def coordinator_tx_queue_len(snap: SpiderpoolSnapshot) -> Finding:
    """< 0.9.0: SpiderCoordinator gained spec.txQueueLen; its CRD must be updated by hand."""
    crd = snap.crds.get(facts.CRD_COORDINATOR)
    if crd is not None and any("txQueueLen" in _spec_properties(v) for v in crd["spec"].get("versions", [])):
        return Finding("spiderpool.coordinator-txqueuelen", Severity.error, True,
                       "the SpiderCoordinator CRD has spec.txQueueLen")
    return Finding("spiderpool.coordinator-txqueuelen", Severity.error, False,
                   f"the SpiderCoordinator CRD {'is missing' if crd is None else 'lacks spec.txQueueLen'} (added in "
                   f"0.9.0; helm does not upgrade CRDs)",
                   _crd_remediation(snap), (facts.CRD_COORDINATOR,), migration=_crd_migration(snap))


def _spec_properties(version: Mapping) -> Mapping:
    schema = (version.get("schema") or {}).get("openAPIV3Schema") or {}
    return ((schema.get("properties") or {}).get("spec") or {}).get("properties") or {}


def skip_0_9_0(snap: SpiderpoolSnapshot) -> Finding:
    if snap.target != Version("0.9.0"):
        return Finding("spiderpool.skip-0.9.0", Severity.error, True, "the target is not 0.9.0")
    return Finding("spiderpool.skip-0.9.0", Severity.error, False,
                   "the vendor advises skipping 0.9.0 (its SpiderCoordinator CRD change)",
                   "set spec.targetVersion to 0.9.1 or later (the maintained lines are 1.1 and 1.2)")


def duplicate_ips(snap: SpiderpoolSnapshot) -> Finding:
    """<= 0.9.4 (fixed in 0.8.8, 0.9.5, 1.0.0): GC could hand one IP to two pods; the upgrade does not repair it."""
    duplicates = snap.scan.ips.duplicates()
    if not duplicates.ips:
        return Finding("spiderpool.duplicate-ips", Severity.warning, True,
                       "no IP is held by two pods across SpiderIPPools, SpiderEndpoints and pods")
    detail = "; ".join(f"{ip}: {', '.join(owners)}" for ip, owners in duplicates.detail)
    return Finding("spiderpool.duplicate-ips", Severity.warning, False,
                   f"{duplicates.ips} IP(s) are held by more than one pod (the <=0.9.4 GC bug): {detail}. "
                   f"The upgrade stops new conflicts but does not repair these",
                   f"restart the {duplicates.pods.count} pod(s) after the upgrade so they get new IPs: "
                   f"kubectl -n <ns> delete pod <name>", tuple(duplicates.pods.names),
                   after_upgrade=f"restart the {duplicates.pods.count} pod(s) this check names (status.checks"
                                 f"[].objects) so they get new IPs: kubectl -n <ns> delete pod <name>")


def ip_headroom(snap: SpiderpoolSnapshot) -> Finding:
    """Restarting the pods that hold a duplicate IP (what duplicate-ips advises) takes a new IP from their pool
    while the old pod still holds its own: each pool needs as many free IPs as it has such pods."""
    needs, pools = snap.scan.ips.restart_needs(), snap.scan.pools
    rows = sorted(pools.items(), key=lambda item: (item[1].free if item[1].free is not None else 1 << 62)
                  - needs.get(item[0], 0))
    table = tuple(f"{name}: {counts.total if counts.total is not None else '?'} total, {counts.allocated} "
                  f"allocated, {counts.free if counts.free is not None else '?'} free, {needs.get(name, 0)} needed"
                  for name, counts in rows[:MAX_NAMED_OBJECTS])
    short = [f"{name} ({counts.free} free, {needs[name]} needed)" for name, counts in rows
             if name in needs and counts.free is not None and counts.free < needs[name]]
    free = sum(c.free for c in pools.values() if c.free is not None)
    if not short:
        return Finding("spiderpool.ip-headroom", Severity.warning, True,
                       f"{len(pools)} SpiderIPPool(s), {free} free IP(s); restarting the pods that hold duplicate "
                       f"IPs needs {sum(needs.values())} (one per pod, from its pool), and every pool has them",
                       objects=table)
    return Finding("spiderpool.ip-headroom", Severity.warning, False,
                   f"{len(short)} SpiderIPPool(s) have fewer free IPs than restarting the pods holding duplicate "
                   f"IPs needs (the new pod takes an IP before the old one gives its back): {', '.join(short[:10])}",
                   "add IPs to those pools (spec.ips) or free some before restarting the pods duplicate-ips names; "
                   "restart them one by one otherwise", table)


def ip_leaks(snap: SpiderpoolSnapshot) -> Finding:
    leaks = snap.scan.ips.leaks()
    if not leaks.count:
        return Finding("spiderpool.ip-leaks", Severity.warning, True,
                       "every IP a SpiderIPPool counts as allocated has its SpiderEndpoint or pod")
    return Finding("spiderpool.ip-leaks", Severity.warning, False,
                   f"{leaks.count} IP(s) are allocated in a SpiderIPPool to a pod that has neither a SpiderEndpoint "
                   "nor a pod: they are never given out again and shrink the pools a roll draws new pods from",
                   "check spiderpool-controller's IP GC (gc.enabled in the values); a leaked entry can be removed "
                   "from the pool's status.allocatedIPs once its pod is surely gone", tuple(leaks.names))


def orphan_endpoints(snap: SpiderpoolSnapshot) -> Finding:
    orphans = snap.scan.ips.orphan_endpoints()
    if not orphans.count:
        return Finding("spiderpool.orphan-endpoints", Severity.warning, True,
                       "every SpiderEndpoint has its pod (StatefulSet and VM ones may wait for theirs)")
    return Finding("spiderpool.orphan-endpoints", Severity.warning, False,
                   f"{orphans.count} SpiderEndpoint(s) name a pod that is gone (not a StatefulSet's or a VM's, "
                   "which keep theirs on purpose): their IPs stay taken, and a new pod of that name would get the "
                   "stale record", "check spiderpool-controller's GC; delete the SpiderEndpoints once their pods "
                   "are surely gone: kubectl -n <ns> delete spiderendpoint <name>", tuple(orphans.names))


def init_pod(snap: SpiderpoolSnapshot) -> Finding:
    """<= 0.8.7 and 0.9.0-0.9.4: spiderpool-init is a plain Pod; helm upgrade fails to patch it."""
    if snap.init_pod is None:
        return Finding("spiderpool.init-pod", Severity.error, True, "no plain spiderpool-init Pod to remove")
    return Finding("spiderpool.init-pod", Severity.error, False,
                   f"Pod {snap.namespace}/{facts.INIT_POD} makes a later helm upgrade fail (\"cannot patch "
                   f"spiderpool-init with kind Pod\"); from 0.8.8/0.9.5/1.0.0 it is a Job",
                   f"the operator deletes the Pod; by hand: kubectl -n {snap.namespace} delete pod {facts.INIT_POD} "
                   f"(the vendor guide's `kubectl delete spiderpool-init` lacks the kind and the namespace)",
                   (f"{snap.namespace}/{facts.INIT_POD}",), migration="spiderpool.delete-init-pod")


def renamed_values(snap: SpiderpoolSnapshot) -> Finding:
    """Values keys renamed, removed or reshaped between the installed version and the target: reusing the old
    values carries dead keys the new chart ignores."""
    installed = installed_version(snap.running_version, snap.release)
    found = changed_keys(dict(snap.release.values) if snap.release else {}, installed, str(snap.target))
    if not found:
        return Finding("spiderpool.renamed-values", Severity.warning, True,
                       "the release values use no key renamed or removed up to the target")
    return Finding("spiderpool.renamed-values", Severity.warning, False,
                   f"the release values use keys changed up to {snap.target}: "
                   f"{'; '.join(f'{key}: {what}' for key, what in found)}. (The vendor guide's "
                   f"ipam.spidersubnet -> ipam.spiderSubnet rename never shipped.)",
                   "rewrite these keys before any helm upgrade (the chart path carries renamed keys over itself); "
                   "never use --reuse-values across these changes", tuple(key for key, _ in found))


def controller_replicas(snap: SpiderpoolSnapshot) -> Finding:
    """hostNetwork controller replicas on every schedulable node leave a rolling update nowhere to go."""
    if snap.controller is None:
        return Finding("spiderpool.controller-replicas", Severity.error, True, "no spiderpool-controller found")
    spec = snap.controller["spec"]
    pod_spec = spec["template"]["spec"]
    replicas = spec.get("replicas", 1)
    selector = pod_spec.get("nodeSelector") or {}
    schedulable = [n for n in snap.nodes if n.ready and n.schedulable
                   and all(n.labels.get(k) == v for k, v in selector.items())]
    surge = ((spec.get("strategy") or {}).get("rollingUpdate") or {}).get("maxSurge", "25%")
    if not pod_spec.get("hostNetwork") or replicas < len(schedulable) or surge in (0, "0", "0%"):
        return Finding("spiderpool.controller-replicas", Severity.error, True,
                       f"{replicas} controller replica(s) for {len(schedulable)} schedulable node(s)")
    return Finding("spiderpool.controller-replicas", Severity.error, False,
                   f"spiderpool-controller runs {replicas} hostNetwork replica(s) on {len(schedulable)} schedulable "
                   f"node(s): a rolling update's surge pod finds no node with ports 5720-5724 free and hangs",
                   "the operator updates the controller with maxSurge 0 (one replica at a time); or scale it below "
                   "the node count, or move its ports (spiderpoolController.httpPort ...)",
                   (f"{snap.namespace}/{facts.CONTROLLER_DEPLOYMENT}",), migration="spiderpool.controller-max-surge-0")


def host_port_conflicts(snap: SpiderpoolSnapshot) -> Finding:
    """Another pod holding an agent or controller host port keeps Spiderpool's pod from starting there."""
    clashes = snap.scan.port_clashes
    if not clashes.count:
        return Finding("spiderpool.host-ports", Severity.error, True, "no other pod uses Spiderpool's host ports")
    return Finding("spiderpool.host-ports", Severity.error, False,
                   f"{clashes.count} pod(s) hold host ports Spiderpool needs; its pods cannot start on those nodes",
                   "move those pods or set other ports in the values (spiderpoolAgent.httpPort, "
                   "spiderpoolController.httpPort, ...)", tuple(clashes.names))


def helm_release_behind(snap: SpiderpoolSnapshot) -> Finding:
    """The operator upgrades outside helm, which leaves the release on the old chart; helm (or a GitOps controller
    reconciling the release) would put the old version back. Found before a plan, and said again after it."""
    check_id = "spiderpool.helm-release-behind"
    if snap.release is None:
        return Finding(check_id, Severity.warning, True, "no helm release found")
    name, recorded, running = snap.release.name, recorded_version(snap.release), snap.running_version
    recorded_at, running_at = parse_version(recorded), parse_version(running)
    objects = (f"helm release {name}",)
    bring_in_line = (f"helm upgrade {name} spiderpool/spiderpool -n {snap.namespace} --version {snap.target} "
                     f"-f <your values> (Flux or Argo CD: set the chart version in git)")
    after_upgrade = "" if recorded_at in (None, snap.target) else (
        f"helm release {name} still records Spiderpool {recorded}: {bring_in_line}; until then a helm upgrade with "
        f"the release's chart, a helm rollback or a GitOps reconcile puts {recorded} back")
    if recorded_at is None or running_at is None:
        return Finding(check_id, Severity.warning, True,
                       f"helm release {name} ({recorded}) or the images ({running}) give no version to compare",
                       objects=objects, after_upgrade=after_upgrade)
    if recorded_at == running_at:
        return Finding(check_id, Severity.warning, True, f"helm release {name} records the running version",
                       objects=objects, after_upgrade=after_upgrade)
    return Finding(check_id, Severity.warning, False,
                   f"helm release {name} records Spiderpool {recorded}, but {running} runs (upgraded "
                   f"outside helm, e.g. by an earlier UpgradePlan): a helm upgrade with the release's chart, a helm "
                   f"rollback, or a GitOps controller reconciling the release would put {recorded} back",
                   f"once this plan has succeeded: {bring_in_line}", objects, after_upgrade=after_upgrade)


CHECKS: tuple[Check[SpiderpoolSnapshot], ...] = (
    Check("spiderpool.skip-0.9.0", "skip 0.9.0", skip_0_9_0, order=0),
    Check("spiderpool.auto-pool-labels", "auto pool labels (< 0.3.6)", auto_pool_labels, Crossing(("<0.3.6",)), 10),
    Check("spiderpool.endpoint-owner-type", "SpiderEndpoint ownerControllerType (< 0.4.0)", endpoint_owner_type,
          Crossing(("<0.4.0",)), 20),
    Check("spiderpool.stored-versions", "objects stored as v1 (< 0.4.0)", v1_stored, Crossing(("<0.4.0",)), 22),
    # before every check that applies the target CRDs: the fields are recorded before the CRDs prune them
    Check("spiderpool.fields-1.0.0", "fields 1.0.0 renames or drops", object_checks.fields_1_0,
          order=object_checks.FIELDS_ORDER),
    Check("spiderpool.missing-crds", "new CRDs (<= 0.5.0)", missing_crds, Crossing(("<=0.5.0",)), 30),
    Check("spiderpool.multus-uninstall", "multus.multusCNI.uninstall (<= 0.7.3)", multus_uninstall,
          Crossing(("<=0.7.3",)), 40),
    Check("spiderpool.init-pod", "spiderpool-init Pod (<= 0.8.7, 0.9.0-0.9.4)", init_pod,
          Crossing(("<=0.8.7", ">=0.9.0,<=0.9.4")), 45),
    Check("spiderpool.coordinator-txqueuelen", "SpiderCoordinator txQueueLen (< 0.9.0)", coordinator_tx_queue_len,
          Crossing(("<0.9.0",)), 50),
    # after every check that applies the target CRDs: the defaults need them
    Check("spiderpool.default-objects", "default SpiderCoordinator and SpiderMultusConfig (< 0.6.0)",
          object_checks.default_objects, Crossing(("<0.6.0",)), object_checks.DEFAULTS_ORDER),
    Check("spiderpool.duplicate-ips", "duplicate IPs (<= 0.9.4)", duplicate_ips, Crossing(("<=0.9.4",)), 60),
    Check("spiderpool.ip-headroom", "free IPs for restarts", ip_headroom, order=62),
    Check("spiderpool.ip-leaks", "IPs allocated to no one", ip_leaks, order=64),
    Check("spiderpool.orphan-endpoints", "SpiderEndpoints without a pod", orphan_endpoints, order=66),
    Check("spiderpool.renamed-values", "values renamed or removed", renamed_values,
          Crossing(tuple(f"<{change.at}" for change in VALUES_CHANGES)), 70),
    Check("spiderpool.cleanup-hook", "pre-delete cleanup hook (>= 1.0.0)", object_checks.cleanup_hook, order=75),
    Check("spiderpool.controller-replicas", "controller replicas vs nodes", controller_replicas, order=80),
    Check("spiderpool.host-ports", "host-port conflicts", host_port_conflicts, order=90),
    Check("spiderpool.helm-release-behind", "helm release vs running version", helm_release_behind, order=100),
)


def all_checks() -> Iterable[Check[SpiderpoolSnapshot]]:
    return CHECKS
