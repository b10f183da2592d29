"""Run the plan's plugin checks against the cluster (reads only)."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Mapping

from kubernetes import client

from cniupgrade.api.models import Plugin, UpgradePlanSpec
from cniupgrade.kube.client import paginate
from cniupgrade.kube.spiderpool import SpiderpoolReader
from cniupgrade.plugins.profiles import profile_for
from cniupgrade.plugins.spiderpool import checks as spiderpool_checks
from cniupgrade.plugins.uk8s import checks as uk8s_checks
from cniupgrade.policy import SecurityPolicy
from cniupgrade.preflight import generic_checks, security_checks
from cniupgrade.preflight.framework import Verdict, evaluate, parse_version
from cniupgrade.rollout.observation import Observation
from cniupgrade.rollout.planner import NodeInfo


@dataclass(frozen=True)
class PreflightReport:
    installed_version: str | None = None
    verdict: Verdict | None = None
    excluded_nodes: Mapping[str, str] = field(default_factory=dict)


def with_preflight(api: client.ApiClient, spec: UpgradePlanSpec, observation: Observation,
                   policy: SecurityPolicy, plan_namespace: str) -> Observation:
    """The observation with the plugin's pre-flight report folded in (installed version, checks, exclusions),
    after the checks that keep the plan within the admin's policy (never skipped): the namespace boundary the
    plan passed, the image policy, and the reach of the changes it would make."""
    images = dict(observation.daemonset.images) if observation.daemonset else {}
    report = run_preflight(api, spec, images, list(observation.nodes.values()))
    verdict = report.verdict or Verdict()
    migrations = [f.migration for f in verdict.migrations()] if spec.migrations.enabled else []
    scope = security_checks.ScopeSnapshot(plan_namespace, policy, spec.service_account_name,
                                          profile_for(spec).cluster_wide_changes(spec, migrations))
    guard = [security_checks.namespace_boundary(plan_namespace, spec.namespace, policy),
             security_checks.image_policy(images_snapshot(spec, observation, policy)),
             security_checks.cluster_scope(scope)]
    return replace(observation, installed_version=report.installed_version, excluded_nodes=report.excluded_nodes,
                   preflight=Verdict([*guard, *verdict.findings], verdict.skipped))


def images_snapshot(spec: UpgradePlanSpec, observation: Observation,
                    policy: SecurityPolicy) -> security_checks.ImagesSnapshot:
    """Every image the plan would put in place: the DaemonSet's and control plane's changed ones, the probe's."""
    profile = profile_for(spec)
    workloads = [(f"DaemonSet {observation.daemonset.namespace}/{observation.daemonset.name}",
                  observation.daemonset.images)] if observation.daemonset else []
    workloads += [(f"Deployment {spec.namespace}/{d.name}", d.images) for d in observation.control_plane]
    images = {f"{where} container {name}": image
              for where, current in workloads
              for name, image in profile.target_images(spec, current).items() if current.get(name) != image}
    return security_checks.ImagesSnapshot(
        images, profile.image_repositories, policy, digest_required=policy.require_digest and not
        profile.image_repositories, probe_image=spec.rollout.probe.image if spec.rollout.probe.enabled else None)


def run_preflight(api: client.ApiClient, spec: UpgradePlanSpec, images: Mapping[str, str],
                  nodes: list[NodeInfo]) -> PreflightReport:
    """The plugin's own checks, plus the checks every plugin gets (first)."""
    report = plugin_preflight(api, spec, images, nodes)
    installed = report.installed_version or profile_for(spec).installed_version(images)
    common = evaluate(generic_checks.CHECKS, generic_checks.VersionsSnapshot(installed, spec.target_version,
                                                                             spec.allow_downgrade),
                      None, None, spec.preflight.skip)
    own = report.verdict or Verdict()
    return PreflightReport(report.installed_version, Verdict(common.findings + own.findings,
                                                             common.skipped + own.skipped), report.excluded_nodes)


def plugin_preflight(api: client.ApiClient, spec: UpgradePlanSpec, images: Mapping[str, str],
                     nodes: list[NodeInfo]) -> PreflightReport:
    if spec.plugin is Plugin.spiderpool:
        target = parse_version(spec.target_version)
        running = spiderpool_checks.running_version([profile_for(spec).installed_version(images),
                                                     *agent_versions(api, spec).values()])
        snapshot = SpiderpoolReader(api).snapshot(spec, target, nodes, running)
        installed = spiderpool_checks.installed_version(running, snapshot.release)
        try:
            return PreflightReport(installed, evaluate(spiderpool_checks.CHECKS, snapshot, parse_version(installed), target,
                                                       spec.preflight.skip))
        finally:
            snapshot.scan.ips.close()
    if spec.plugin is Plugin.uk8s_cni_vpc:
        return uk8s_preflight(api, spec)
    return PreflightReport()


def agent_versions(api: client.ApiClient, spec: UpgradePlanSpec) -> dict[str, str | None]:
    """Each node's agent version: the tag of the plugin's own images in the agent pod running there."""
    profile = profile_for(spec)
    ds = json.loads(client.AppsV1Api(api).read_namespaced_daemon_set(profile.daemonset_name(spec), spec.namespace,
                                                                     _preload_content=False).data)
    selector = ",".join(f"{k}={v}" for k, v in sorted(ds["spec"]["selector"].get("matchLabels", {}).items()))
    versions: dict[str, str | None] = {}
    for pod in paginate(client.CoreV1Api(api).list_namespaced_pod, namespace=spec.namespace, label_selector=selector):
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            versions[node] = profile.installed_version({c["name"]: c["image"] for c in pod["spec"]["containers"]})
    return versions


def uk8s_preflight(api: client.ApiClient, spec: UpgradePlanSpec) -> PreflightReport:
    """Each node's installed version is the tag of the cni-vpc pod on it (nothing in the API records it)."""
    versions = agent_versions(api, spec)
    snapshot = uk8s_checks.Uk8sSnapshot(
        kubernetes_version=client.VersionApi(api).get_code().git_version, target=spec.target_version,
        node_versions=versions, maintained_minors=tuple(spec.uk8s.maintained_kubernetes_minors),
        force=spec.uk8s.force)
    readable = [v for v in versions.values() if v and parse_version(v)]
    installed = Counter(readable).most_common(1)[0][0] if readable else None
    excluded = {} if spec.uk8s.force else {
        n: "CNI version unreadable (spec.uk8s.force upgrades it)" for n in uk8s_checks.unreadable(snapshot)}
    verdict = evaluate(uk8s_checks.CHECKS, snapshot, None, None, spec.preflight.skip)
    return PreflightReport(installed, verdict, excluded)
