"""Which nodes a DaemonSet runs on, decided as its controller decides (NodeShouldRunDaemonPod): the pod template's
nodeSelector and required node affinity, and the NoSchedule/NoExecute taints it does not tolerate, counting the
tolerations the controller adds to every daemon pod. A plan accounts for exactly these nodes (its agent nodes).

A node that is down (the not-ready/unreachable taints) is still an agent node: its agent waits for it, and so does
the plan (steps/not_ready.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from cniupgrade.seams.objects import IN_FLIGHT_TAINT_KEY, NodeInfo, Taint

# The tolerations the DaemonSet controller adds to its pods (AddOrUpdateDaemonPodTolerations).
DAEMON_TOLERATIONS: tuple[Mapping[str, str], ...] = tuple(
    {"key": f"node.kubernetes.io/{key}", "operator": "Exists", "effect": effect} for key, effect in (
        ("not-ready", "NoExecute"), ("unreachable", "NoExecute"), ("disk-pressure", "NoSchedule"),
        ("memory-pressure", "NoSchedule"), ("pid-pressure", "NoSchedule"), ("unschedulable", "NoSchedule")))
HOST_NETWORK_TOLERATION = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                           "effect": "NoSchedule"}
DOWN_TAINTS = frozenset({"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"})
IGNORED_TAINTS = DOWN_TAINTS | {IN_FLIGHT_TAINT_KEY}  # a node in flight (ours) is still an agent node
BLOCKING_EFFECTS = frozenset({"NoSchedule", "NoExecute"})


def tolerates(toleration: Mapping[str, str], taint: Taint) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint.effect:
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return not toleration.get("key") or toleration["key"] == taint.key
    return toleration.get("key") == taint.key and (toleration.get("value") or "") == taint.value


def _number(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _requirement_holds(requirement: Mapping, values: Mapping[str, str]) -> bool:
    key, operator, wanted = requirement.get("key"), requirement.get("operator"), requirement.get("values") or []
    present, value = key in values, values.get(key)
    if operator == "In":
        return present and value in wanted
    if operator == "NotIn":
        return not present or value not in wanted
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and len(wanted) == 1:
        have, bound = _number(value), _number(wanted[0])
        if have is None or bound is None:
            return False
        return have > bound if operator == "Gt" else have < bound
    return False


def _term_holds(term: Mapping, node: NodeInfo) -> bool:
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not expressions and not fields:
        return False  # an empty term matches no node
    return all(_requirement_holds(r, node.labels) for r in expressions) and \
        all(_requirement_holds(r, {"metadata.name": node.name}) for r in fields)


@dataclass(frozen=True)
class Placement:
    node_selector: Mapping[str, str]
    node_terms: Sequence[Mapping] | None  # required node affinity; None: no such affinity
    tolerations: Sequence[Mapping[str, str]]

    @classmethod
    def of_template(cls, pod_spec: Mapping) -> Placement:
        required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                    .get("requiredDuringSchedulingIgnoredDuringExecution"))
        added = DAEMON_TOLERATIONS + ((HOST_NETWORK_TOLERATION,) if pod_spec.get("hostNetwork") else ())
        return cls(node_selector=pod_spec.get("nodeSelector") or {},
                   node_terms=(required.get("nodeSelectorTerms") or []) if required is not None else None,
                   tolerations=tuple(pod_spec.get("tolerations") or ()) + added)

    def runs_on(self, node: NodeInfo) -> bool:
        if any(node.labels.get(key) != value for key, value in self.node_selector.items()):
            return False
        if self.node_terms is not None and not any(_term_holds(term, node) for term in self.node_terms):
            return False
        return not any(taint.effect in BLOCKING_EFFECTS and taint.key not in IGNORED_TAINTS
                       and not any(tolerates(t, taint) for t in self.tolerations) for taint in node.taints)


EVERYWHERE = Placement(node_selector={}, node_terms=None, tolerations=({"operator": "Exists"},))
