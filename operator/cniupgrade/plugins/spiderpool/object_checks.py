"""Spiderpool's objects across versions as pre-flight checks: fields 1.0.0's CRDs rename or drop, the defaults a
pre-0.6.0 install never got, and the 1.0.0 chart's pre-delete hook that deletes every Spider* object.

Their `order` in CHECKS also orders their migrations (a plan runs them in the order of the findings): the 1.0.0
fields are recorded before any check that applies the target CRDs (spiderpool.missing-crds, 30), and the defaults
are created after the last one (spiderpool.coordinator-txqueuelen, 50), once the CRDs exist.
"""
from __future__ import annotations

from packaging.version import Version

from cniupgrade.plugins.spiderpool import defaults, facts, objects_1_0
from cniupgrade.plugins.spiderpool.snapshot import SpiderpoolSnapshot
from cniupgrade.preflight.framework import Finding, Severity

ONE = Version("1.0.0")
REWRITE = "spiderpool.rewrite-1.0-fields"
CREATE_DEFAULTS = "spiderpool.create-default-objects"
CLEANUP_VALUE = "spiderpoolController.cleanup.enable"
FIELDS_ORDER, DEFAULTS_ORDER = 25, 55
CARRIED = ("SpiderMultusConfig spec.ibsriov.ibKubernetesEnabled -> spec.ibsriov.enableIbKubernetes and "
           "spec.sriov.enableRdma -> spec.sriov.rdmaIsolation (renamed, carried over); dropped, not carried: "
           "SpiderIPPool/SpiderSubnet spec.vlan (" + objects_1_0.VLAN_MOVED + "), SpiderCoordinator "
           "detectGateway/detectIPConflict (now the chart values ipam.enableGatewayDetection/"
           "ipam.enableIPConflictDetection, cluster-wide: set them where a coordinator had them true) and "
           "hostRPFilter (no setting in 1.0.0)")


def fields_1_0(snap: SpiderpoolSnapshot) -> Finding:
    """< 1.0.0: the 1.0.0 CRDs prune renamed and dropped fields; their values are recorded first, and the
    renamed ones written under their new names once the new CRDs are in place."""
    check_id, scan = "spiderpool.fields-1.0.0", snap.scan
    if snap.target < ONE:
        return Finding(check_id, Severity.error, True, "the target's CRDs keep every field")
    by_hand = ("kubectl get <kind> <name> -o yaml > before.yaml for each object; apply the target's CRDs; set the "
               "renamed fields again under their new names")
    if scan.old_fields.count:
        return Finding(check_id, Severity.error, False,
                       f"{scan.old_fields.count} Spiderpool object(s) set fields the 1.0.0 CRDs rename or drop: "
                       f"replacing the CRDs prunes them and the settings are lost. {CARRIED}",
                       f"the operator records each object's old fields in its annotation "
                       f"{objects_1_0.RECORD_ANNOTATION} before the CRDs are replaced, and writes the renamed ones "
                       f"under their new names once the 1.0.0 CRDs are in place (the spec is left as it is until "
                       f"then: the running version still reads it). By hand: {by_hand}",
                       tuple(scan.old_fields.names), migration=REWRITE)
    if not scan.renames_pending.count:
        return Finding(check_id, Severity.error, True, "no Spiderpool object sets a field 1.0.0 renames or drops")
    pending = tuple(scan.renames_pending.names)
    if objects_1_0.serves_new_names(snap.crds.get(facts.CRD_MULTUS_CONFIG)):
        return Finding(check_id, Severity.error, False,
                       f"{scan.renames_pending.count} SpiderMultusConfig(s) have recorded fields not yet set under "
                       f"their 1.0.0 names", "the operator writes them from the record "
                       f"({objects_1_0.RECORD_ANNOTATION})", pending, migration=REWRITE)
    waiting = (f"{scan.renames_pending.count} SpiderMultusConfig(s) hold renamed fields (recorded in "
               f"{objects_1_0.RECORD_ANNOTATION}) that only the 1.0.0 SpiderMultusConfig CRD can keep under their "
               f"new names")
    if snap.crd_source:
        return Finding(check_id, Severity.error, False, waiting,
                       f"the operator applies the CRDs in ConfigMap {snap.crd_source}, then writes the fields",
                       pending, migration="spiderpool.apply-crds")
    return Finding(check_id, Severity.warning, False, waiting,
                   "name the target's CRDs in spec.spiderpool.crdSourceConfigMap so the operator applies them before "
                   "the rollout and carries the fields over; applied otherwise (by hand or by the chart), a plan or "
                   "`cniupgrade plan` run afterwards carries them", pending)


def default_objects(snap: SpiderpoolSnapshot) -> Finding:
    """< 0.6.0: the init Job that creates the default SpiderCoordinator and SpiderMultusConfig is a post-install
    hook; upgrades never run it."""
    check_id, scan = "spiderpool.default-objects", snap.scan
    coordinator = defaults.coordinator_name(snap.value)
    multus = defaults.multus_config_name(snap.value)
    missing = [*([f"SpiderCoordinator {coordinator}"] if coordinator and coordinator not in scan.coordinators else []),
               *([f"SpiderMultusConfig {snap.namespace}/{multus}"]
                 if multus and f"{snap.namespace}/{multus}" not in scan.multus_configs else [])]
    unnamed = (snap.value("multus.enableMultusConfig", True) is not False and not multus
               and not any(n.startswith(f"{snap.namespace}/") for n in scan.multus_configs))
    why = "the chart's init Job creates them on install only (a post-install hook), never on upgrade"
    if missing:
        return Finding(check_id, Severity.error, False, f"{', '.join(missing)} missing: {why}",
                       "the operator creates them as the init Job would (after the CRDs are applied)"
                       + (_unnamed_remediation(snap) if unnamed else ""), tuple(missing), migration=CREATE_DEFAULTS)
    if unnamed:
        return Finding(check_id, Severity.warning, False,
                       f"no SpiderMultusConfig for the default CNI in {snap.namespace}: {why}, and it names it after "
                       f"the first CNI config in /etc/cni/net.d on a node, which the API does not show",
                       _unnamed_remediation(snap).lstrip("; "), (f"{snap.namespace}/<default CNI>",))
    return Finding(check_id, Severity.error, True, "the default SpiderCoordinator and SpiderMultusConfig exist")


def _unnamed_remediation(snap: SpiderpoolSnapshot) -> str:
    return (f"; set multus.multusCNI.defaultCniCRName to the default CNI's network name (the `name` in the first "
            f"file of /etc/cni/net.d) in the release values so the operator creates its SpiderMultusConfig, or create "
            f"it in {snap.namespace} by hand (cniType custom, or macvlan/ipvlan/sriov)")


def cleanup_hook(snap: SpiderpoolSnapshot) -> Finding:
    """>= 1.0.0: the chart's pre-delete hook deletes every Spider* object and the CRDs on `helm uninstall`."""
    check_id = "spiderpool.cleanup-hook"
    if snap.target < ONE:
        return Finding(check_id, Severity.warning, True, "the target chart has no pre-delete cleanup hook")
    if snap.value(CLEANUP_VALUE, True) is False:
        return Finding(check_id, Severity.warning, True, f"{CLEANUP_VALUE} is false in the release values")
    return Finding(check_id, Severity.warning, False,
                   f"{CLEANUP_VALUE} is true (the 1.0.0+ chart's default): `helm uninstall` runs a pre-delete Job "
                   f"that deletes every SpiderIPPool, SpiderSubnet, SpiderEndpoint, SpiderCoordinator and "
                   f"SpiderMultusConfig and the CRDs. Upgrading by uninstall and reinstall destroys all IP state "
                   f"(this operator never uninstalls)",
                   f"set {CLEANUP_VALUE}=false in the release values (helm upgrade ... --set {CLEANUP_VALUE}=false, "
                   f"or spec.chart.values), and never upgrade by uninstall + install",
                   (f"helm release {snap.release.name}" if snap.release else f"value {CLEANUP_VALUE}",))
