"""A rollback asked for (spec.rollback or the annotation), in any phase: after Succeeded the DaemonSet is held
again with the previous images, the first node goes back alone, then at most maxUnavailable at a time; who asked
is recorded; the same request is handled once."""
from __future__ import annotations

import datetime as dt

from cniupgrade.api.status import NodeState, Phase, UpgradePlanStatus
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.decide import decide, needs_preflight, settled
from cniupgrade.rollout.rollback_request import RollbackRequest, rollback_requested
from tests.unit.builders import NEW, NEW_IMAGES, OLD, OLD_IMAGES, PLAN, ROLLING, T0, observe, pod, spec

ASKED = RollbackRequest("annotation:metrics bad", "annotation cniupgrade.io/rollback", "metrics bad",
                        "kubectl-annotate", "2026-11-23T12:10:00Z")


def kinds(decision, kind):
    return [a for a in decision.actions if isinstance(a, kind)]


def succeeded(plan_spec):
    """A plan run to its end: every node upgraded, the DaemonSet released."""
    d = decide(plan_spec, UpgradePlanStatus(), observe(), 1)
    d = decide(plan_spec, d.status, observe(owner=PLAN), 1)
    now = T0
    while d.status.phase is not Phase.succeeded:
        now += dt.timedelta(seconds=5)
        deleted = {a.node for a in kinds(d, act.DeletePod)}
        pods = [pod(f"n{i}", NEW if f"n{i}" in deleted or any(r.name == f"n{i}" for r in d.status.nodes) else OLD)
                for i in range(5)]
        d = decide(plan_spec, d.status, observe(owner=PLAN, pods=pods, now=now), 1)
    return d.status


def test_a_rollback_asked_for_after_succeeded_holds_the_daemonset_and_rolls_the_first_node_back_alone():
    plan_spec = spec()
    done = succeeded(plan_spec)
    assert settled(plan_spec, done, None) and not settled(plan_spec, done, None, ASKED)
    assert not needs_preflight(plan_spec, done, None, ASKED)  # a rollback reads no checks
    released = observe(pods=[pod(f"n{i}", NEW) for i in range(5)], images=NEW_IMAGES, revision=NEW)
    d = decide(plan_spec, done, released, 1, rollback=ASKED)
    assert d.status.phase is Phase.rolling_back and d.status.last_handled_rollback == ASKED.key
    record = d.status.rollback
    assert (record.requested_by, record.requested_at, record.reason, record.phase) == (
        "kubectl-annotate", "2026-11-23T12:10:00Z", "metrics bad", "Succeeded")
    (asked,) = [e for e in d.events if e.reason == "RollbackRequested"]
    assert "kubectl-annotate" in asked.message and "metrics bad" in asked.message and asked.type == "Warning"

    # released at the end: held again, OnDelete with the previous images in one patch, before any pod goes
    d = decide(plan_spec, d.status, released, 1, rollback=ASKED)
    (take,) = kinds(d, act.TakeOwnership)
    assert take.target_images == OLD_IMAGES and take.original_strategy == ROLLING and not kinds(d, act.DeletePod)

    held = [pod(f"n{i}", NEW) for i in range(5)]
    d = decide(plan_spec, d.status, observe(owner=PLAN, pods=held, images=OLD_IMAGES, revision=OLD), 1,
               rollback=ASKED)
    assert len(kinds(d, act.DeletePod)) == 1  # the first alone
    first = kinds(d, act.DeletePod)[0].node
    pods = [pod(f"n{i}", OLD if f"n{i}" == first else NEW) for i in range(5)]
    d = decide(plan_spec, d.status, observe(owner=PLAN, pods=pods, images=OLD_IMAGES, revision=OLD), 1,
               rollback=ASKED)
    assert len(kinds(d, act.DeletePod)) == 2  # then maxUnavailable at a time
    back = [pod(f"n{i}") for i in range(5)]
    while d.status.phase is Phase.rolling_back:
        d = decide(plan_spec, d.status, observe(owner=PLAN, pods=back, images=OLD_IMAGES, revision=OLD), 1,
                   rollback=ASKED)
    assert d.status.phase is Phase.rolled_back
    assert kinds(d, act.ReleaseDaemonSet) == [act.ReleaseDaemonSet(ROLLING)]
    assert all(r.state is NodeState.rolled_back for r in d.status.nodes) and len(d.status.nodes) == 5
    degraded = next(c for c in d.status.conditions if c.type == "Degraded")  # not "0 node(s) failed"
    assert (degraded.status, degraded.reason) == ("True", "NodesRolledBack") and degraded.message.startswith("5 ")
    ready = next(c for c in d.status.conditions if c.type == "Ready")
    assert "5 node(s) rolled back to the previous version as asked by annotation cniupgrade.io/rollback " \
           "(kubectl-annotate)" in ready.message
    # handled once: the same request again changes nothing and plans nothing
    assert settled(plan_spec, d.status, None, ASKED)
    again = decide(plan_spec, d.status, observe(pods=back, revision=OLD), 1, rollback=ASKED)
    assert again.status.phase is Phase.rolled_back and not again.actions


def test_a_rollback_asked_for_before_the_daemonset_was_taken_changes_nothing():
    plan_spec = spec(requireApproval=True)
    waiting = decide(plan_spec, UpgradePlanStatus(), observe(), 1)
    assert waiting.status.phase is Phase.awaiting_approval
    d = decide(plan_spec, waiting.status, observe(), 1, rollback=ASKED)
    assert d.status.phase is Phase.rolled_back and not d.actions
    assert "nothing to roll back" in next(c.message for c in d.status.conditions if c.type == "Ready")


def test_a_rollback_asked_for_mid_roll_takes_back_only_the_nodes_the_plan_changed():
    plan_spec = spec()
    d = decide(plan_spec, UpgradePlanStatus(), observe(), 1)
    d = decide(plan_spec, d.status, observe(owner=PLAN), 1)  # the canary n0 is being replaced
    pods = [pod("n0", NEW)] + [pod(f"n{i}") for i in range(1, 5)]
    d = decide(plan_spec, d.status, observe(owner=PLAN, pods=pods), 1, rollback=ASKED)
    assert d.status.phase is Phase.rolling_back and d.status.rollback.phase == "Canary"
    d = decide(plan_spec, d.status, observe(owner=PLAN, pods=pods), 1, rollback=ASKED)
    assert kinds(d, act.SetImages) == [act.SetImages(OLD_IMAGES)] and not kinds(d, act.TakeOwnership)
    d = decide(plan_spec, d.status, observe(owner=PLAN, pods=pods, images=OLD_IMAGES, revision=OLD), 1,
               rollback=ASKED)
    assert [a.node for a in kinds(d, act.DeletePod)] == ["n0"]


def test_the_request_and_who_made_it_are_read_from_the_plan():
    plan = {"metadata": {"annotations": {"cniupgrade.io/rollback": "alice: canary metrics"}, "managedFields": [
        {"manager": "kubectl-client-side-apply", "time": "2026-11-23T11:00:00Z",
         "fieldsV1": {"f:spec": {"f:targetVersion": {}}}},
        {"manager": "kubectl-annotate", "time": "2026-11-23T12:10:00Z",
         "fieldsV1": {"f:metadata": {"f:annotations": {"f:cniupgrade.io/rollback": {}}}}}]}, "spec": {}}
    request = rollback_requested(plan)
    assert request == RollbackRequest("annotation:alice: canary metrics", "annotation cniupgrade.io/rollback",
                                      "alice: canary metrics", "kubectl-annotate", "2026-11-23T12:10:00Z")
    plan["spec"]["rollback"] = True
    plan["metadata"]["managedFields"].append({"manager": "argocd-controller", "time": "2026-11-23T12:20:00Z",
                                              "fieldsV1": {"f:spec": {"f:rollback": {}}}})
    assert rollback_requested(plan).key == "spec.rollback"
    assert rollback_requested(plan).requested_by == "argocd-controller"
    assert rollback_requested({"metadata": {}, "spec": {"rollback": False}}) is None
