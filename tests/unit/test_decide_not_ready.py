"""Nodes NotReady when planned: the plan waits for them after its last batch; one that turns Ready joins as a batch
of its own and is upgraded under the gates; at the end of the wait the policy fails the plan or lets it succeed
Degraded, and the DaemonSet stays OnDelete while any of them runs the previous agent."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

from cniupgrade.api.status import NodeState, Phase, UpgradePlanStatus
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.decide import decide
from cniupgrade.seams.objects import NodeInfo
from tests.unit.builders import NEW, OLD, PLAN, T0, observe, pod, spec


def kinds(decision, kind):
    return [a for a in decision.actions if isinstance(a, kind)]


def reason(status, type_="Ready"):
    return next(c for c in status.conditions if c.type == type_).reason


def n4_not_ready(obs):
    return replace(obs, nodes={**obs.nodes, "n4": NodeInfo("n4", ready=False)})


def through_the_planned_nodes(plan_spec):
    """Planned with n4 NotReady, then n0..n3 upgraded: the decision after the last batch passed, and its time."""
    d = decide(plan_spec, UpgradePlanStatus(), n4_not_ready(observe()), 1)
    assert "n4: not Ready" in d.status.plan.excluded
    done = n4_not_ready(observe(owner=PLAN, pods=[*(pod(f"n{i}", NEW) for i in range(4)), pod("n4", OLD)]))
    now = T0
    for _ in range(20):  # canary, then the rest: a few passes
        now += dt.timedelta(seconds=1)
        d = decide(plan_spec, d.status, replace(done, now=now), 1)
        if reason(d.status) == "WaitingForNotReadyNodes" or d.status.phase.value in ("Succeeded", "Failed"):
            break
    assert all(r.state is NodeState.upgraded for r in d.status.nodes) and len(d.status.nodes) == 4
    return d, done, now


def test_the_plan_waits_then_a_node_ready_again_joins_as_its_own_batch_and_is_upgraded_gated():
    plan_spec = spec(rollout={"maxUnavailable": 5, "notReadyNodes": {"waitSeconds": 60}})
    d, done, now = through_the_planned_nodes(plan_spec)
    assert d.status.phase is Phase.rolling and reason(d.status) == "WaitingForNotReadyNodes"
    assert "n4" in next(c.message for c in d.status.conditions if c.type == "Ready")
    assert not kinds(d, act.ReleaseDaemonSet) and 0 < d.requeue_after <= 60

    back = replace(done, now=now + dt.timedelta(seconds=20), nodes={**done.nodes, "n4": NodeInfo("n4")})
    d = decide(plan_spec, d.status, back, 1)
    assert d.status.plan.batches[-1] == ["n4"] and "n4: not Ready" not in d.status.plan.excluded
    assert [e.reason for e in d.events if e.reason == "NodesReadyAgain"]
    d = decide(plan_spec, d.status, back, 1)
    assert [a.node for a in kinds(d, act.DeletePod)] == ["n4"]  # through the batch machinery, gated
    upgraded = replace(back, agents=observe(owner=PLAN, pods=[pod(f"n{i}", NEW) for i in range(5)]).agents)
    while d.status.phase is not Phase.succeeded:
        d = decide(plan_spec, d.status, upgraded, 1)
    assert {r.name: r.state for r in d.status.nodes}["n4"] is NodeState.upgraded
    assert (d.status.counts.total, d.status.counts.planned, d.status.counts.not_ready) == (5, 5, 0)
    assert d.status.progress == "5/5"
    assert kinds(d, act.ReleaseDaemonSet) and reason(d.status, "Degraded") == "AllNodesHealthy"


def test_still_not_ready_after_the_wait_fails_the_plan_when_so_asked():
    plan_spec = spec(rollout={"maxUnavailable": 5, "notReadyNodes": {"waitSeconds": 30, "then": "Fail"}})
    d, done, now = through_the_planned_nodes(plan_spec)
    d = decide(plan_spec, d.status, replace(done, now=now + dt.timedelta(seconds=31)), 1)
    assert d.status.phase is Phase.failed and reason(d.status) == "NodesNotReady"
    assert not kinds(d, act.ReleaseDaemonSet)  # OnDelete stays: n4's old agent is not the native controller's


def test_still_not_ready_after_the_wait_succeeds_degraded_by_default():
    plan_spec = spec(rollout={"maxUnavailable": 5, "notReadyNodes": {"waitSeconds": 30}})
    d, done, now = through_the_planned_nodes(plan_spec)
    d = decide(plan_spec, d.status, replace(done, now=now + dt.timedelta(seconds=31)), 1)
    assert d.status.phase is Phase.succeeded and reason(d.status, "Degraded") == "NodesLeftOnPreviousVersion"
    assert kinds(d, act.ReleaseDaemonSet) == [act.ReleaseDaemonSet(None)]  # annotations go, OnDelete stays
    counts = d.status.counts  # every agent node once, and never a silent full score
    assert (counts.total, counts.planned, counts.upgraded, counts.not_ready, counts.excluded) == (5, 4, 4, 1, 0)
    assert d.status.progress == "4/4 (+1 left out)"
