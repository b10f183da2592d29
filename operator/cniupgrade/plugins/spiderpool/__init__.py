"""The Spiderpool profile: what Spiderpool's upgrade notes require, checked against the live cluster, and the
migrations they call for. Spiderpool's own images are tagged v<appVersion>; Multus and others keep theirs."""
from __future__ import annotations

from typing import Iterable, Mapping

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.plugins.agents import agent_versions
from cniupgrade.plugins.images import first_tag, image_name, retag
from cniupgrade.plugins.spiderpool import checks, facts
from cniupgrade.plugins.spiderpool.migrator import SpiderpoolMigrator
from cniupgrade.plugins.spiderpool.reader import SpiderpoolReader
from cniupgrade.plugins.spiderpool.values import carry_values
from cniupgrade.preflight.framework import evaluate, parse_version
from cniupgrade.seams.cluster import ClusterAccess, ClusterReads
from cniupgrade.seams.objects import NodeInfo
from cniupgrade.seams.plugin import ChartDefaults, NoAfterSuccess, PluginReport, register


class SpiderpoolPlugin(NoAfterSuccess):
    name = "spiderpool"
    image_repositories = facts.IMAGE_REPOSITORIES
    OWN_IMAGES = ("spiderpool-agent", "spiderpool-controller", "spiderpool-plugins")

    def daemonset_name(self, spec: UpgradePlanSpec) -> str:
        return spec.daemon_set.name if spec.daemon_set else facts.AGENT_DAEMONSET

    def control_plane(self, spec: UpgradePlanSpec) -> tuple[str, ...]:
        return (facts.CONTROLLER_DEPLOYMENT,)

    def _own(self, image: str) -> bool:
        return image_name(image) in self.OWN_IMAGES

    def retag(self, spec: UpgradePlanSpec, image: str) -> str:
        return retag(image, "v" + spec.target_version.lstrip("v")) if self._own(image) else image

    def installed_version(self, images: Mapping[str, str]) -> str | None:
        version = first_tag({n: i for n, i in images.items() if self._own(i)})
        return version.lstrip("v") if version else None

    def preflight(self, spec: UpgradePlanSpec, reads: ClusterReads, images: Mapping[str, str],
                  nodes: list[NodeInfo]) -> PluginReport:
        """The installed version is the oldest its images run (template and pods), else the helm release's."""
        target = parse_version(spec.target_version)
        running = checks.running_version([self.installed_version(images),
                                          *agent_versions(reads, self, spec).values()])
        snapshot = SpiderpoolReader(reads).snapshot(spec, target, nodes, running)
        installed = checks.installed_version(running, snapshot.release)
        try:
            return PluginReport(installed, evaluate(checks.CHECKS, snapshot, parse_version(installed), target,
                                                    spec.preflight.skip))
        finally:
            snapshot.scan.ips.close()

    def migrate(self, migration_id: str, spec: UpgradePlanSpec, plan_namespace: str, reads: ClusterReads,
                acting: ClusterAccess) -> str:
        return SpiderpoolMigrator(spec, plan_namespace, reads, acting).run(migration_id)

    def cluster_wide_changes(self, spec: UpgradePlanSpec, migrations: Iterable[str]) -> tuple[str, ...]:
        reach = facts.CLUSTER_WIDE_MIGRATIONS
        return tuple(f"migration {m}: {reach[m]}" for m in dict.fromkeys(migrations) if m in reach)

    def chart_defaults(self, spec: UpgradePlanSpec) -> ChartDefaults:
        """The chart copies spiderpoolAgent.updateStrategy into the DaemonSet verbatim (every version)."""
        return ChartDefaults(facts.RELEASE, spec.spiderpool.release_name,
                             {"spiderpoolAgent": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": None}}},
                             carry_values)


PLUGIN = register(SpiderpoolPlugin())
