"""Run a plan's pre-flight against the cluster (reads only): the checks that keep it within the admin's policy,
the checks every plugin gets, and the plugin's own."""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from kubernetes import client

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.kube.chart import chart_preflight
from cniupgrade.kube.cluster import KubeCluster
from cniupgrade.policy import SecurityPolicy
from cniupgrade.preflight import generic_checks, security_checks
from cniupgrade.preflight.framework import Verdict, evaluate
from cniupgrade.rollout.observation import Observation
from cniupgrade.seams.mechanism import mechanism_for
from cniupgrade.seams.objects import NodeInfo
from cniupgrade.seams.plugin import PluginReport, plugin_for, version_order


def with_preflight(api: client.ApiClient, spec: UpgradePlanSpec, observation: Observation,
                   policy: SecurityPolicy, plan_namespace: str) -> Observation:
    """The observation with the pre-flight report folded in (installed version, checks, exclusions), after the
    checks that keep the plan within the admin's policy (never skipped): the namespace boundary the plan passed,
    the image policy, and the reach of the changes it would make."""
    images = dict(observation.daemonset.images) if observation.daemonset else {}
    report = run_preflight(api, spec, images, list(observation.nodes.values()))
    verdict = report.verdict or Verdict()
    chart_findings, rendered = chart_preflight(spec, plugin_for(spec), plan_namespace, observation.daemonset,
                                               api) if spec.chart else ([], None)
    observation = replace(observation, chart=rendered)
    migrations = [f.migration for f in verdict.migrations()] if spec.migrations.enabled else []
    scope = security_checks.ScopeSnapshot(plan_namespace, policy, spec.service_account_name,
                                          plugin_for(spec).cluster_wide_changes(spec, migrations))
    guard = [security_checks.namespace_boundary(plan_namespace, spec.namespace, policy),
             security_checks.image_policy(images_snapshot(spec, observation, policy)),
             security_checks.cluster_scope(scope)]
    return replace(observation, installed_version=report.installed_version, excluded_nodes=report.excluded_nodes,
                   preflight=Verdict([*guard, *chart_findings, *verdict.findings], verdict.skipped))


def images_snapshot(spec: UpgradePlanSpec, observation: Observation,
                    policy: SecurityPolicy) -> security_checks.ImagesSnapshot:
    """Every image the plan would put in place: the DaemonSet's and control plane's changed ones, the probe's."""
    plugin, mechanism = plugin_for(spec), mechanism_for(spec)
    workloads = [(f"DaemonSet {observation.daemonset.namespace}/{observation.daemonset.name}",
                  observation.daemonset.images)] if observation.daemonset else []
    workloads += [(f"Deployment {spec.namespace}/{d.name}", d.images) for d in observation.control_plane]
    rendered = observation.chart.images if observation.chart else {}
    images = {f"{where} container {name}": image
              for where, current in workloads
              for name, image in mechanism.target_images(plugin, spec, current, rendered.get(where)).items()
              if current.get(name) != image}
    return security_checks.ImagesSnapshot(
        images, plugin.image_repositories, policy, digest_required=policy.require_digest and not
        plugin.image_repositories, probe_image=spec.rollout.probe.image if spec.rollout.probe.enabled else None)


def run_preflight(api: client.ApiClient, spec: UpgradePlanSpec, images: Mapping[str, str],
                  nodes: list[NodeInfo]) -> PluginReport:
    """The plugin's own checks, plus the checks every plugin gets (first)."""
    plugin = plugin_for(spec)
    report = plugin.preflight(spec, KubeCluster(api), images, nodes)
    installed = report.installed_version or plugin.installed_version(images)
    versions = generic_checks.VersionsSnapshot(installed, spec.target_version, spec.allow_downgrade,
                                               version_order(plugin))  # in the vendor's release order
    common = evaluate(generic_checks.CHECKS, versions, None, None, spec.preflight.skip)
    own = report.verdict or Verdict()
    return PluginReport(report.installed_version, Verdict(common.findings + own.findings,
                                                          common.skipped + own.skipped), report.excluded_nodes)
