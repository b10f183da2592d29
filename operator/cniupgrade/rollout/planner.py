"""The pure planner: eligible nodes -> deterministic order -> canary -> batches of at most maxUnavailable."""
from __future__ import annotations

import math
from typing import AbstractSet, Iterable, Mapping

from cniupgrade.api.models import NodeOrder, Rollout
from cniupgrade.api.status import ComputedPlan
from cniupgrade.seams.objects import NodeInfo

ZONE_LABEL = "topology.kubernetes.io/zone"
NOT_READY = "not Ready"
NO_AGENT_POD = "no agent pod"


def matches(labels: Mapping[str, str], selector: Mapping[str, str] | None) -> bool:
    return not selector or all(labels.get(k) == v for k, v in selector.items())


def resolve_max_unavailable(value: int | str, eligible: int) -> int:
    """A count, or a percentage of the eligible nodes rounded up like the DaemonSet controller; at least 1."""
    if isinstance(value, str):
        return max(1, math.ceil(eligible * int(value.rstrip("%")) / 100))
    return max(1, value)


def exclusion_reason(node: NodeInfo, rollout: Rollout, has_agent: bool) -> str | None:
    if not matches(node.labels, rollout.node_selector):
        return "not selected by spec.rollout.nodeSelector"
    if not node.schedulable and rollout.skip_cordoned:
        return "unschedulable (cordoned; spec.rollout.skipCordoned)"
    if not node.ready:
        return NOT_READY
    if not has_agent:
        return NO_AGENT_POD
    return None


def order_nodes(nodes: Iterable[NodeInfo], order: NodeOrder) -> list[NodeInfo]:
    by_name = sorted(nodes, key=lambda n: n.name)
    if order is NodeOrder.by_zone:
        return sorted(by_name, key=lambda n: n.labels.get(ZONE_LABEL, ""))  # stable: names stay sorted in a zone
    return by_name


def chunk(names: list[str], size: int) -> list[list[str]]:
    return [names[i:i + size] for i in range(0, len(names), size)]


def compute_plan(nodes: Iterable[NodeInfo], nodes_with_agent: AbstractSet[str], rollout: Rollout,
                 profile_exclusions: Mapping[str, str] | None = None) -> ComputedPlan:
    """`profile_exclusions`: nodes the plugin profile leaves out, with why (e.g. an unreadable version)."""
    eligible, excluded = [], []
    profile_exclusions = profile_exclusions or {}
    for node in sorted(nodes, key=lambda n: n.name):
        reason = exclusion_reason(node, rollout, node.name in nodes_with_agent) or profile_exclusions.get(node.name)
        if reason:
            excluded.append(f"{node.name}: {reason}")
        else:
            eligible.append(node)
    ordered = order_nodes(eligible, rollout.order)
    size = resolve_max_unavailable(rollout.max_unavailable, len(ordered))
    if rollout.canary.node_selector:
        canary = [n.name for n in ordered if matches(n.labels, rollout.canary.node_selector)]
    else:
        canary = [n.name for n in ordered[:rollout.canary.count]]
    chosen = set(canary)
    rest = [n.name for n in ordered if n.name not in chosen]
    # A canary larger than maxUnavailable is split too: no batch ever exceeds maxUnavailable.
    canary_batches = chunk(canary, size)
    return ComputedPlan(batches=canary_batches + chunk(rest, size), canary_batches=len(canary_batches),
                        excluded=excluded, max_unavailable=size)


def left_out(plan: ComputedPlan) -> dict[str, str]:
    """Node -> why the plan left it out, from its excluded entries ('<node>: <why>')."""
    return dict(entry.split(": ", 1) for entry in plan.excluded)


def not_ready_when_planned(plan: ComputedPlan) -> list[str]:
    """The nodes the plan left out because they were NotReady (steps/not_ready.py waits for them)."""
    suffix = f": {NOT_READY}"
    return [entry[:-len(suffix)] for entry in plan.excluded if entry.endswith(suffix)]
