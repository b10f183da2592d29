"""No pod lands on a node mid-swap: while a node is in flight (its old agent pod deleted, the new one not through
its gate) it carries the NoSchedule taint cniupgrade.io/upgrading, put on before the deletion and taken off when
the gate passes, the node is reverted or the plan ends. Pods the scheduler would have sent there wait (or go
elsewhere) instead of failing sandbox creation against a half-replaced CNI.

Decided after the steps, from the taints the nodes show, so a restarted operator takes stale ones off. The taint's
value names the plan (a digest of <namespace>/<name>): a node two plans swap at once keeps the first one's, and
each plan takes off only its own.
"""
from __future__ import annotations

import hashlib
from typing import Mapping

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.api.status import TERMINAL_PHASES, CheckResult, NodeState
from cniupgrade.memo import last_by_identity
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.placement import Placement, tolerates
from cniupgrade.seams.objects import IN_FLIGHT_TAINT_KEY, NodeInfo, Taint

EFFECT = "NoSchedule"
CHECK_ID = "rollout.in-flight-taint"


def taint_value(plan_key: str) -> str:
    return hashlib.sha256(plan_key.encode()).hexdigest()[:16]


def in_flight_taint(plan_key: str) -> Taint:
    return Taint(IN_FLIGHT_TAINT_KEY, EFFECT, taint_value(plan_key))


def agent_tolerates(placement: Placement, plan_key: str) -> bool:
    taint = in_flight_taint(plan_key)
    return any(tolerates(t, taint) for t in placement.tolerations)


@last_by_identity
def _tainted(nodes: Mapping[str, NodeInfo]) -> dict[str, str]:
    """Node -> the value of its in-flight taint, for the nodes that carry one (a pass reads it; nodes rarely
    change, so it is derived once per change of the node view)."""
    return {name: t.value for name, node in nodes.items() for t in node.taints if t.key == IN_FLIGHT_TAINT_KEY}


def check(spec: UpgradePlanSpec, placement: Placement, plan_key: str) -> CheckResult | None:
    """A finding when the protection is on but cannot be used: the agent itself would not be scheduled back."""
    if not spec.rollout.taint_in_flight or agent_tolerates(placement, plan_key):
        return None
    return CheckResult(
        id=CHECK_ID, severity="Warning", result="Failed",
        message=f"the agent DaemonSet does not tolerate the taint {IN_FLIGHT_TAINT_KEY}:{EFFECT}, so its new pods "
                "could not land on a tainted node: in-flight nodes are not tainted, and new pods may be scheduled "
                "onto a node while its CNI is replaced",
        remediation="give the agent's pod template the toleration {operator: Exists} (as CNI agents usually "
                    "have), or set spec.rollout.taintInFlight: false to silence this")


def wanted(spec: UpgradePlanSpec, decision, obs, in_flight: set[str]) -> set[str]:
    """The nodes that should carry this plan's taint after the decision."""
    ds = obs.daemonset
    if not spec.rollout.taint_in_flight or ds is None or decision.status.phase in TERMINAL_PHASES \
            or not agent_tolerates(ds.placement, obs.plan_key):
        return set()
    return {n for n in in_flight if n in obs.nodes}


def reconcile(spec: UpgradePlanSpec, decision, obs, in_flight: set[str]) -> int:
    """Taint and untaint actions before the decision's own: a node is tainted before its pod goes, and one taken
    off is not in flight (its gate passed or it is back), so nothing orders it after the rest; all node patches of
    a pass then run at once, one round trip before the deletions. Returns how many nodes carry the taint after."""
    tainted = _tainted(obs.nodes)
    value = taint_value(obs.plan_key)
    want = wanted(spec, decision, obs, in_flight)
    ours = {n for n, v in tainted.items() if v == value}
    decision.actions[:0] = [act.SetInFlightTaint(n, value, n in want, obs.nodes[n].taints)
                            for n in sorted((want - tainted.keys()) | (ours - want))]
    return len(want)


def upgrading(nodes) -> set[str]:
    """Forward: the nodes whose result says Upgrading (a rollback names its own in-flight nodes)."""
    return {n for n in nodes.unfinished if nodes[n].state is NodeState.upgrading}
