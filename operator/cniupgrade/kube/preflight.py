"""Run the plan's plugin checks against the cluster (reads only)."""
from __future__ import annotations

from typing import Mapping

from kubernetes import client

from cniupgrade.api.models import Plugin, UpgradePlanSpec
from cniupgrade.kube.spiderpool import SpiderpoolReader
from cniupgrade.plugins.profiles import profile_for
from cniupgrade.plugins.spiderpool.checks import CHECKS as SPIDERPOOL_CHECKS
from cniupgrade.preflight.framework import Verdict, evaluate, parse_version
from cniupgrade.rollout.planner import NodeInfo


def run_preflight(api: client.ApiClient, spec: UpgradePlanSpec, images: Mapping[str, str],
                  nodes: list[NodeInfo]) -> tuple[str | None, Verdict | None]:
    """(installed version, verdict); (None, None) for a plugin without checks of its own."""
    if spec.plugin is not Plugin.spiderpool:
        return None, None
    target = parse_version(spec.target_version)
    snapshot, release = SpiderpoolReader(api).snapshot(spec, target, nodes)
    installed = (release.app_version or release.chart_version) if release else None
    installed = installed or profile_for(spec).installed_version(images)
    verdict = evaluate(SPIDERPOOL_CHECKS, snapshot, parse_version(installed), target, spec.preflight.skip)
    return installed, verdict
