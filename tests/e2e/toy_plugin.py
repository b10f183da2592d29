"""A plugin of its own, registered from outside the operator's tree (CNIUPGRADE_PLUGIN_MODULES): its agent
DaemonSet `toy-agent`, its images under example.com/toy, one check (`toy.ready`: the ConfigMap `toy-ready` says
ready) and the migration that fixes it (`toy.mark-ready`)."""
from __future__ import annotations

from typing import Iterable, Mapping

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.plugins.images import first_tag, image_name, retag
from cniupgrade.preflight.framework import Check, Finding, Severity, evaluate
from cniupgrade.seams.cluster import CONFIGMAPS, ClusterAccess, ClusterReads
from cniupgrade.seams.objects import NodeInfo
from cniupgrade.seams.plugin import MigrationError, NoAfterSuccess, NoChart, PluginReport, register

MARKER = "toy-ready"


def ready(marker: Mapping | None) -> Finding:
    if marker is not None and (marker.get("data") or {}).get("ready") == "true":
        return Finding("toy.ready", Severity.error, True, f"ConfigMap {MARKER} says ready")
    return Finding("toy.ready", Severity.error, False, f"ConfigMap {MARKER} does not say ready",
                   f"kubectl patch configmap {MARKER} -p '{{\"data\":{{\"ready\":\"true\"}}}}'",
                   objects=(f"ConfigMap/{MARKER}",), migration="toy.mark-ready")


class ToyPlugin(NoAfterSuccess, NoChart):
    name = "toy"
    image_repositories = ("example.com/toy",)

    def daemonset_name(self, spec: UpgradePlanSpec) -> str:
        return spec.daemon_set.name if spec.daemon_set else "toy-agent"

    def control_plane(self, spec: UpgradePlanSpec) -> tuple[str, ...]:
        return ()

    def retag(self, spec: UpgradePlanSpec, image: str) -> str:
        return retag(image, spec.target_version) if image_name(image) == "toy-agent" else image

    def installed_version(self, images: Mapping[str, str]) -> str | None:
        return first_tag(images)

    def preflight(self, spec: UpgradePlanSpec, reads: ClusterReads, images: Mapping[str, str],
                  nodes: list[NodeInfo]) -> PluginReport:
        marker = reads.get(CONFIGMAPS, MARKER, spec.namespace)
        return PluginReport(verdict=evaluate((Check("toy.ready", "ready", ready),), marker, None, None,
                                             spec.preflight.skip))

    def migrate(self, migration_id: str, spec: UpgradePlanSpec, plan_namespace: str, reads: ClusterReads,
                acting: ClusterAccess) -> str:
        if migration_id != "toy.mark-ready":
            raise MigrationError(f"unknown migration {migration_id}")
        acting.patch(CONFIGMAPS, MARKER, spec.namespace, {"data": {"ready": "true"}})
        return f"ConfigMap {MARKER} marked ready"

    def cluster_wide_changes(self, spec: UpgradePlanSpec, migrations: Iterable[str]) -> tuple[str, ...]:
        return ()


register(ToyPlugin())
