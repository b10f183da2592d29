"""Nodes that joined the cluster after the plan was made join it, once the planned batches are done: upgraded
(or, already on the new agent, gated and counted) as a batch of their own; NotReady ones are left out as such."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

from cniupgrade.api.status import NodeState, Phase, UpgradePlanStatus
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.decide import decide
from cniupgrade.seams.objects import NodeInfo
from tests.unit.builders import NEW, OLD, PLAN, T0, observe, pod, spec

PLANNED = 3


def run(plan_spec, late: dict[str, tuple[str | None, bool]], passes: int = 20, podless: str | None = None):
    """Planned n0..n2 (`podless` without its agent pod yet); they are upgraded, then `late` nodes show up (and
    `podless` gets its pod, on the previous agent); each deleted old pod comes back new."""
    first = observe(PLANNED)
    if podless:
        kept = [p for p in first.agents.live.values() if p.node != podless]
        first = replace(first, agents=type(first.agents).of(kept))
    d = decide(plan_spec, UpgradePlanStatus(), first, 1)
    assert podless is None or f"{podless}: no agent pod" in d.status.plan.excluded
    revisions = {f"n{i}": OLD for i in range(PLANNED)} | {n: rev for n, (rev, _) in late.items() if rev}
    ready = {n: r for n, (_, r) in late.items()}
    now, decisions = T0, []
    for _ in range(passes):
        now += dt.timedelta(seconds=1)
        obs = observe(0, owner=PLAN, now=now)
        obs = replace(obs, nodes={**{f"n{i}": NodeInfo(f"n{i}") for i in range(PLANNED)},
                                  **{n: NodeInfo(n, ready=r) for n, r in ready.items()}},
                      agents=type(obs.agents).of([pod(n, rev) for n, rev in revisions.items()]))
        d = decide(plan_spec, d.status, obs, 1)
        decisions.append(d)
        for action in d.actions:
            if isinstance(action, act.DeletePod):
                revisions[action.node] = NEW
        if d.status.phase in (Phase.succeeded, Phase.failed):
            break
    return d, decisions


def events(decisions, reason):
    return [e for d in decisions for e in d.events if e.reason == reason]


def test_a_node_that_joined_with_the_previous_agent_is_upgraded_under_the_gates():
    d, decisions = run(spec(), {"n9": (OLD, True)})
    assert d.status.phase is Phase.succeeded
    assert d.status.plan.batches[-1] == ["n9"] and d.status.counts.total == PLANNED + 1
    assert {r.name: r.state for r in d.status.nodes}["n9"] is NodeState.upgraded
    assert any(isinstance(a, act.DeletePod) and a.node == "n9" for dd in decisions for a in dd.actions)
    [joined] = events(decisions, "NodesJoined")
    assert "1 node(s) joined the cluster" in joined.message and "(n9)" in joined.message
    assert not any(c.type == "Degraded" and c.status == "True" for c in d.status.conditions)


def test_a_node_that_came_up_with_the_new_agent_is_counted_without_a_restart():
    d, decisions = run(spec(), {"n9": (NEW, True)})
    assert d.status.phase is Phase.succeeded and d.status.counts.upgraded == PLANNED + 1
    assert not any(isinstance(a, act.DeletePod) and a.node == "n9" for dd in decisions for a in dd.actions)


def test_a_notready_newcomer_is_left_out_as_notready_and_one_without_its_pod_yet_is_not_seen():
    d, decisions = run(spec(), {"n8": (NEW, False), "n9": (None, True)})
    assert d.status.phase is Phase.succeeded
    assert "n8: not Ready" in d.status.plan.excluded and d.status.counts.not_ready == 1
    assert all("n9" not in entry for entry in d.status.plan.excluded) and d.status.counts.total == PLANNED + 1
    assert len(events(decisions, "NodesJoined")) == 1  # said once: n8 is in the plan's exclusions after it


def test_a_node_planned_without_its_agent_pod_joins_once_it_has_one():
    d, decisions = run(spec(), {}, podless="n2")
    assert d.status.phase is Phase.succeeded and not d.status.plan.excluded
    assert d.status.plan.batches[-1] == ["n2"] and d.status.counts.upgraded == PLANNED
    assert any(isinstance(a, act.DeletePod) and a.node == "n2" for dd in decisions for a in dd.actions)
