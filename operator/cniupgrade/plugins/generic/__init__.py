"""The generic profile: any DaemonSet-based CNI. With spec.daemonSet.images exactly the named containers
change; without it every container's image is re-tagged with the target version. No vendor notes, no
migrations, no vendor repositories (the admin's allow-list names them)."""
from __future__ import annotations

from typing import Iterable, Mapping

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.plugins.images import first_tag, retag
from cniupgrade.seams.cluster import ClusterAccess, ClusterReads
from cniupgrade.seams.objects import NodeInfo
from cniupgrade.seams.plugin import ChartDefaults, MigrationError, NoAfterSuccess, PluginReport, register


class GenericPlugin(NoAfterSuccess):
    name = "generic"
    image_repositories: tuple[str, ...] = ()

    def daemonset_name(self, spec: UpgradePlanSpec) -> str:
        if spec.daemon_set is None:
            raise ValueError("the generic profile needs spec.daemonSet")
        return spec.daemon_set.name

    def control_plane(self, spec: UpgradePlanSpec) -> tuple[str, ...]:
        return ()

    def chart_defaults(self, spec: UpgradePlanSpec) -> ChartDefaults | None:
        """Any chart, named in spec.chart (name and release required at admission); no known value holds the
        agent, so a post-renderer does; values carry over as they are."""
        chart = spec.chart
        if chart is None or not chart.name or not chart.release_name:
            return None
        return ChartDefaults(chart.name, chart.release_name, {})

    def retag(self, spec: UpgradePlanSpec, image: str) -> str:
        named = spec.daemon_set.images if spec.daemon_set else None
        return image if named else retag(image, spec.target_version)

    def installed_version(self, images: Mapping[str, str]) -> str | None:
        return first_tag(images)

    def preflight(self, spec: UpgradePlanSpec, reads: ClusterReads, images: Mapping[str, str],
                  nodes: list[NodeInfo]) -> PluginReport:
        return PluginReport()

    def migrate(self, migration_id: str, spec: UpgradePlanSpec, plan_namespace: str, reads: ClusterReads,
                acting: ClusterAccess) -> str:
        raise MigrationError(f"unknown migration {migration_id}")

    def cluster_wide_changes(self, spec: UpgradePlanSpec, migrations: Iterable[str]) -> tuple[str, ...]:
        return ()


PLUGIN = register(GenericPlugin())
