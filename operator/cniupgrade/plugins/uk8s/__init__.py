"""The UCloud UK8S cni-vpc profile: UK8S's CNI upgrade advice, checked and applied per node. cni-vpc images are
tagged with the bare version (1.3.0, 1.0.4-lts); each node's installed version is the tag of the cni-vpc pod on
it (nothing in the API records it), and tags are ordered as the vendor released them (versions.py: date tags
before 1.0.0, the -lts line, dev builds unordered). Crossing 2.0.0 (breaking) asks for approval and installs the
PodNetworking CRD first. Once upgraded, pods older than their node's upgrade are reported (and, with
spec.uk8s.restartOldPods, their workloads restarted): they keep the old network features until recreated."""
from __future__ import annotations

from typing import Iterable, Mapping

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.api.status import Phase, UpgradePlanStatus
from cniupgrade.plugins.agents import agent_versions
from cniupgrade.plugins.crd_source import apply_crds
from cniupgrade.plugins.images import first_tag, image_name, retag
from cniupgrade.plugins.uk8s import checks, facts, old_pods
from cniupgrade.plugins.uk8s.versions import Uk8sVersion, at_least, uk8s_version
from cniupgrade.preflight.framework import evaluate
from cniupgrade.seams.cluster import CRDS, ClusterAccess, ClusterReads
from cniupgrade.seams.objects import NodeInfo
from cniupgrade.seams.plugin import AfterSuccess, MigrationError, NoChart, PluginReport, register


RESTART_RECHECK_SECONDS = 10.0


class Uk8sPlugin(NoChart):  # UK8S installs cni-vpc from its own manifests, not a chart
    name = "uk8s-cni-vpc"
    image_repositories = facts.IMAGE_REPOSITORIES

    def daemonset_name(self, spec: UpgradePlanSpec) -> str:
        return spec.daemon_set.name if spec.daemon_set else facts.DAEMONSETS[spec.uk8s.component]

    def control_plane(self, spec: UpgradePlanSpec) -> tuple[str, ...]:
        return ()

    def _own(self, image: str) -> bool:
        return image_name(image) in facts.IMAGE_NAMES

    def retag(self, spec: UpgradePlanSpec, image: str) -> str:
        return retag(image, spec.target_version) if self._own(image) else image

    def installed_version(self, images: Mapping[str, str]) -> str | None:
        return first_tag({n: i for n, i in images.items() if self._own(i)})

    def version_key(self, tag: str | None) -> Uk8sVersion | None:
        """The vendor's order, for the checks every plugin gets (generic.downgrade)."""
        return uk8s_version(tag)

    def preflight(self, spec: UpgradePlanSpec, reads: ClusterReads, images: Mapping[str, str],
                  nodes: list[NodeInfo]) -> PluginReport:
        multi_subnet = at_least(spec.target_version, facts.MULTI_SUBNET_RELEASE)
        snapshot = checks.Uk8sSnapshot(
            kubernetes_version=reads.kubernetes_version(), target=spec.target_version,
            node_versions=agent_versions(reads, self, spec),
            maintained_minors=tuple(spec.uk8s.maintained_kubernetes_minors), force=spec.uk8s.force,
            allow_downgrade=spec.allow_downgrade, crd_source=spec.uk8s.crd_source_config_map,
            podnetworking_crd=reads.get(CRDS, facts.PODNETWORKING_CRD) if multi_subnet else None,
            restarts_old_pods=spec.uk8s.restart_old_pods,
            restart_headroom=old_pods.projected_headroom(reads, spec.namespace, [n.name for n in nodes])
            if spec.uk8s.restart_old_pods else None)
        excluded = {} if spec.uk8s.force else {
            n: "CNI version unreadable (spec.uk8s.force upgrades it)" for n in checks.unreadable(snapshot)}
        verdict = evaluate(checks.checks_for(snapshot), snapshot, None, None, spec.preflight.skip)
        return PluginReport(snapshot.installed, verdict, excluded)

    def migrate(self, migration_id: str, spec: UpgradePlanSpec, plan_namespace: str, reads: ClusterReads,
                acting: ClusterAccess) -> str:
        if migration_id != facts.APPLY_PODNETWORKING_CRD:
            raise MigrationError(f"unknown migration {migration_id}")
        config_map = spec.uk8s.crd_source_config_map
        applied = apply_crds(acting, config_map, plan_namespace, facts.GROUP, spec.namespace,
                             "spec.uk8s.crdSourceConfigMap")
        return f"applied CRDs {', '.join(applied)} from ConfigMap {config_map}"

    def cluster_wide_changes(self, spec: UpgradePlanSpec, migrations: Iterable[str]) -> tuple[str, ...]:
        reach = facts.CLUSTER_WIDE_MIGRATIONS
        return tuple(f"migration {m}: {reach[m]}" for m in dict.fromkeys(migrations) if m in reach) + (
            ("spec.uk8s.restartOldPods: Deployments, StatefulSets and DaemonSets in every namespace",)
            if spec.uk8s.restart_old_pods else ())

    def after_success_due(self, spec: UpgradePlanSpec, status: UpgradePlanStatus) -> bool:
        """New network features reach only new pods: once upgraded, say which pods are old (once)."""
        return status.phase is Phase.succeeded and status.old_pods is None

    def after_success(self, spec: UpgradePlanSpec, status: UpgradePlanStatus, reads: ClusterReads,
                      acting: ClusterAccess) -> AfterSuccess:
        held_before = status.restart_held
        status = old_pods.report(reads, acting, status, spec.uk8s.restart_old_pods, spec.namespace)
        if status.old_pods is None:  # held: said once (and again when the numbers change), re-checked soon
            said = status.restart_held != held_before
            return AfterSuccess(status, "RestartHeld" if said else None, f"restarting old pods waits: "
                                f"{status.restart_held}", warning=True, retry_in=RESTART_RECHECK_SECONDS)
        restarted = status.restarted_workloads
        return AfterSuccess(status, "OldPodsFound", (
            f"{status.old_pods_count} pod(s) were created on a node before its upgrade and keep the old network "
            f"features until recreated" + (f"; restarted {', '.join(restarted)}" if restarted else "")))


PLUGIN = register(Uk8sPlugin())
