"""The pure reconcile decision, step by step through an upgrade and its failure paths."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.api.status import NodeState, Phase, UpgradePlanStatus
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.decide import decide
from tests.unit.builders import NEW, OLD, OLD_IMAGES, PLAN, ROLLING, T0, observe, pod, probe, spec


def kinds(decision, kind):
    return [a for a in decision.actions if isinstance(a, kind)]


def condition(status, type_):
    return next(c for c in status.conditions if c.type == type_)


def start(plan_spec=None, **obs):
    """A fresh plan's first decision, then the decision after the DaemonSet was taken."""
    plan_spec = plan_spec or spec()
    first = decide(plan_spec, UpgradePlanStatus(), observe(**obs), generation=1)
    return plan_spec, first


def test_fresh_plan_computes_the_plan_and_takes_the_daemonset_in_one_step():
    plan_spec, first = start()
    assert first.status.phase is Phase.canary
    assert first.status.plan.batches == [["n0"], ["n1", "n2"], ["n3", "n4"]]
    assert first.status.previous_images == OLD_IMAGES and first.status.target_images == {"agent": "r/agent:v2"}
    assert first.status.original_update_strategy == ROLLING and first.status.from_version == "v1"
    (take,) = kinds(first, act.TakeOwnership)
    assert take.owner == PLAN and take.original_strategy == ROLLING
    assert not kinds(first, act.DeletePod)
    assert first.status.started_at and first.requeue_after == 0
    assert condition(first.status, "PreflightPassed").status == "True"
    assert condition(first.status, "Reconciling").status == "True"
    assert condition(first.status, "Ready").status == "False"


def test_canary_first_then_batches_then_release():
    plan_spec, first = start()
    status = first.status
    # canary: only n0's old pod is deleted
    d = decide(plan_spec, status, observe(owner=PLAN), 1)
    assert [a.node for a in kinds(d, act.DeletePod)] == ["n0"]
    assert d.status.nodes[0].state is NodeState.upgrading
    # n0 back on the new revision and Ready: canary passes, no more deletions in this pass
    pods = [pod("n0", NEW)] + [pod(f"n{i}") for i in range(1, 5)]
    d = decide(plan_spec, d.status, observe(owner=PLAN, pods=pods, now=T0 + dt.timedelta(seconds=5)), 1)
    assert d.status.nodes[0].state is NodeState.upgraded and not d.actions and d.requeue_after == 0
    assert any(e.reason == "BatchSucceeded" for e in d.events)
    # next pass: the first regular batch, two nodes at once
    d = decide(plan_spec, d.status, observe(owner=PLAN, pods=pods, now=T0 + dt.timedelta(seconds=6)), 1)
    assert sorted(a.node for a in kinds(d, act.DeletePod)) == ["n1", "n2"]
    assert d.status.phase is Phase.rolling and d.status.current_batch == 1
    # everything new and Ready: release the DaemonSet and succeed
    all_new = [pod(f"n{i}", NEW) for i in range(5)]
    releases = []
    for _ in range(3):
        d = decide(plan_spec, d.status, observe(owner=PLAN, pods=all_new, now=T0 + dt.timedelta(seconds=9)), 1)
        releases += kinds(d, act.ReleaseDaemonSet)
    assert d.status.phase is Phase.succeeded
    assert releases == [act.ReleaseDaemonSet(ROLLING)]  # once, then the plan is terminal
    assert condition(d.status, "Ready").status == "True" and d.status.progress == "5/5"
    assert condition(d.status, "Reconciling").status == "False"


def test_a_node_on_the_new_revision_is_never_deleted_again():
    plan_spec, first = start()
    pods = [pod("n0", NEW, ready=False)] + [pod(f"n{i}") for i in range(1, 5)]
    d = decide(plan_spec, first.status, observe(owner=PLAN, pods=pods), 1)
    again = decide(plan_spec, d.status, observe(owner=PLAN, pods=pods), 1)
    assert not kinds(d, act.DeletePod) and not kinds(again, act.DeletePod)


def test_resume_after_restart_redeletes_a_pod_it_had_not_replaced_yet():
    plan_spec, first = start()
    d = decide(plan_spec, first.status, observe(owner=PLAN), 1)  # decided to delete n0, then "crashed"
    again = decide(plan_spec, d.status, observe(owner=PLAN), 1)
    assert [a.node for a in kinds(again, act.DeletePod)] == ["n0"]


def test_lost_status_is_rebuilt_from_the_daemonset_annotations():
    plan_spec = spec()
    d = decide(plan_spec, UpgradePlanStatus(), observe(owner=PLAN), 1)
    assert d.status.previous_images == OLD_IMAGES and d.status.original_update_strategy == ROLLING
    assert not kinds(d, act.TakeOwnership) and d.status.started_at


def test_pause_holds_before_the_next_batch_and_before_touching_anything():
    paused = spec(paused=True)
    d = decide(paused, UpgradePlanStatus(), observe(), 1)
    assert d.status.phase is Phase.paused and not d.actions
    assert "spec.paused" in condition(d.status, "Ready").message


def test_window_closed_waits_until_it_opens():
    closed = spec(window={"days": ["Mon"], "start": "20:00", "end": "21:00"})
    d = decide(closed, UpgradePlanStatus(), observe(), 1)
    assert d.status.phase is Phase.waiting and not d.actions
    assert d.requeue_after == 8 * 3600
    assert "2026-11-23T20:00:00Z" in condition(d.status, "Ready").message


def test_approval_publishes_the_plan_and_changes_nothing_until_approved():
    gated = spec(requireApproval=True)
    d = decide(gated, UpgradePlanStatus(), observe(), 1)
    assert d.status.phase is Phase.awaiting_approval and not d.actions and d.status.plan.batches
    approved = decide(spec(requireApproval=True, approved=True), d.status, observe(), 2)
    assert kinds(approved, act.TakeOwnership) and approved.status.plan == d.status.plan


def test_an_approval_left_in_place_does_not_approve_a_changed_spec():
    d = decide(spec(requireApproval=True, approved=True), UpgradePlanStatus(), observe(), 1)  # approved up front
    assert kinds(d, act.TakeOwnership)
    done = d.status.model_copy(update={"phase": Phase.succeeded})
    newer = spec(requireApproval=True, approved=True, targetVersion="v3")  # a new target, approved: true left
    d = decide(newer, done, observe(), 2)
    assert d.status.phase is Phase.awaiting_approval and not d.actions
    assert condition(d.status, "Ready").reason == "ApprovalOutdated"
    d = decide(spec(requireApproval=True, targetVersion="v3"), d.status, observe(), 3)
    assert d.status.phase is Phase.awaiting_approval and condition(d.status, "Ready").reason == "AwaitingApproval"
    d = decide(newer, d.status, observe(), 4)
    assert [a.target_images for a in kinds(d, act.TakeOwnership)] == [{"agent": "r/agent:v3"}]


def test_second_plan_waits_for_the_owner():
    d = decide(spec(), UpgradePlanStatus(), observe(owner="ops/other", other_owner_alive=True), 1)
    assert d.status.phase is Phase.waiting and not d.actions
    assert "ops/other" in condition(d.status, "Ready").message


def test_timeout_without_rollback_stops_and_keeps_on_delete():
    plan_spec, first = start()
    d = decide(plan_spec, first.status, observe(owner=PLAN), 1)
    late = T0 + dt.timedelta(seconds=61)
    pods = [pod("n0", NEW, ready=False)] + [pod(f"n{i}") for i in range(1, 5)]
    d = decide(plan_spec, d.status, observe(owner=PLAN, pods=pods, now=late), 1)
    assert d.status.phase is Phase.failed and not d.actions
    assert d.status.nodes[0].state is NodeState.failed
    assert condition(d.status, "Stalled").status == "True" and condition(d.status, "Degraded").status == "True"
    assert "n0" in condition(d.status, "Ready").message


def test_timeout_with_rollback_reverts_only_the_failed_node_then_restores():
    plan_spec = spec(rollbackOnFailure=True)
    _, first = start(plan_spec)
    d = decide(plan_spec, first.status, observe(owner=PLAN), 1)
    pods = [pod("n0", NEW, ready=False)] + [pod(f"n{i}") for i in range(1, 5)]
    d = decide(plan_spec, d.status, observe(owner=PLAN, pods=pods, now=T0 + dt.timedelta(seconds=61)), 1)
    assert d.status.phase is Phase.rolling_back and kinds(d, act.SetImages) == [act.SetImages(OLD_IMAGES)]
    # template back on the old images: the DaemonSet's current revision is the old one again
    d = decide(plan_spec, d.status, observe(owner=PLAN, pods=pods, images=OLD_IMAGES, revision=OLD), 1)
    assert [a.node for a in kinds(d, act.DeletePod)] == ["n0"]
    back = [pod(f"n{i}") for i in range(5)]
    d = decide(plan_spec, d.status, observe(owner=PLAN, pods=back, images=OLD_IMAGES, revision=OLD), 1)
    assert d.status.phase is Phase.rolled_back and kinds(d, act.ReleaseDaemonSet)
    assert d.status.nodes[0].state is NodeState.rolled_back and len(d.status.nodes) == 1


def test_daemonset_edited_by_someone_else_stops_the_rollout():
    plan_spec, first = start()
    d = decide(plan_spec, first.status, observe(owner=PLAN, images={"agent": "r/agent:hotfix"}), 1)
    assert d.status.phase is Phase.failed and not d.actions
    assert condition(d.status, "Ready").reason == "DaemonSetChanged"


def test_probe_pod_gates_the_node():
    plan_spec = spec(rollout={"probe": {"enabled": True, "timeoutSeconds": 30}})
    _, first = start(plan_spec)
    pods = [pod("n0", NEW)] + [pod(f"n{i}") for i in range(1, 5)]
    d = decide(plan_spec, first.status, observe(owner=PLAN, pods=pods), 1)
    assert kinds(d, act.CreateProbe) == [act.CreateProbe("n0", "registry.k8s.io/pause:3.10")]
    waiting = decide(plan_spec, d.status, observe(owner=PLAN, pods=pods, probes={"n0": probe("n0", has_ip=False)}), 1)
    # no action but the in-flight taint the node does not show here (tests/unit/test_in_flight_taint.py)
    assert not [a for a in waiting.actions if not isinstance(a, act.SetInFlightTaint)]
    assert waiting.status.nodes[0].state is NodeState.upgrading
    ok = decide(plan_spec, d.status, observe(owner=PLAN, pods=pods, probes={"n0": probe("n0")}), 1)
    assert kinds(ok, act.DeleteProbe) and ok.status.nodes[0].state is NodeState.upgraded
    late = T0 + dt.timedelta(seconds=31)
    failed = decide(plan_spec, d.status, observe(owner=PLAN, pods=pods, now=late,
                                                 probes={"n0": probe("n0", has_ip=False)}), 1)
    assert failed.status.phase is Phase.failed and "probe pod" in failed.status.nodes[0].message


def test_missing_daemonset_is_a_clear_terminal_condition():
    obs = observe()
    d = decide(spec(), UpgradePlanStatus(), replace(obs, daemonset=None), 1)
    assert d.status.phase is Phase.failed and condition(d.status, "Ready").reason == "DaemonSetNotFound"


def test_finished_plan_is_stable_and_a_new_spec_plans_again():
    plan_spec, first = start()
    done = first.status.model_copy(update={"phase": Phase.succeeded, "started_at": None})
    again = decide(plan_spec, done, observe(), 1)
    assert again.status.phase is Phase.succeeded and not again.actions
    newer = decide(spec(targetVersion="v3"), done, observe(), 2)
    assert newer.status.target_images == {"agent": "r/agent:v3"} and kinds(newer, act.TakeOwnership)


def test_a_probe_pod_whose_node_no_longer_waits_for_it_is_removed():
    plan_spec = spec(rollout={"probe": {"enabled": True}})
    _, first = start(plan_spec)
    pods = [pod("n0", NEW)] + [pod(f"n{i}") for i in range(1, 5)]
    passed = decide(plan_spec, first.status, observe(owner=PLAN, pods=pods, probes={"n0": probe("n0")}), 1)
    assert passed.status.nodes[0].state is NodeState.upgraded
    # a probe left behind on the upgraded node (say a crash re-created it) is deleted on the next pass
    again = decide(plan_spec, passed.status, observe(owner=PLAN, pods=pods, probes={"n0": probe("n0")}), 1)
    assert kinds(again, act.DeleteProbe) == [act.DeleteProbe("probe-n0")]
    assert not kinds(again, act.CreateProbe)


def test_a_failed_error_check_blocks_before_anything_changes_and_says_why():
    from cniupgrade.preflight.framework import Finding, Severity, Verdict
    failing = Verdict([Finding("x.host-ports", Severity.error, False, "port 5710 taken", "move it", ("ns/pod",)),
                       Finding("x.values", Severity.warning, False, "old keys"),
                       Finding("x.crds", Severity.error, True, "fine")], skipped=["x.skipped"])
    d = decide(spec(), UpgradePlanStatus(), replace(observe(), preflight=failing, installed_version="0.3.5"), 1)
    assert d.status.phase is Phase.preflight and not d.actions and d.requeue_after == 60
    assert condition(d.status, "Stalled").status == "True" and condition(d.status, "Reconciling").status == "False"
    assert condition(d.status, "PreflightPassed").status == "False"
    assert "x.host-ports" in condition(d.status, "Ready").message and "x.values" not in condition(d.status, "Ready").message
    assert [(c.id, c.result) for c in d.status.checks] == [("x.host-ports", "Failed"), ("x.values", "Failed"),
                                                           ("x.crds", "Passed"), ("x.skipped", "Skipped")]
    assert d.status.checks[0].objects == ["ns/pod"] and d.status.from_version == "0.3.5"
    assert [e.reason for e in d.events].count("PreflightBlocked") == 1
    assert [e.message.split(" ")[0] for e in d.events if e.reason == "CheckFailed"] == ["x.host-ports", "x.values"]
    again = decide(spec(), d.status, replace(observe(), preflight=failing), 1)  # the minute's re-check
    assert not [e for e in again.events if e.reason in ("CheckFailed", "PreflightBlocked")]
    # warnings block only when the plan says so; once the cluster is fixed the plan proceeds
    strict = decide(spec(preflight={"warningsBlock": True}), UpgradePlanStatus(),
                    replace(observe(), preflight=failing), 1)
    assert "x.values" in condition(strict.status, "Ready").message
    fixed = Verdict([Finding("x.host-ports", Severity.error, True, "free")])
    proceeds = decide(spec(), d.status, replace(observe(), preflight=fixed), 1)
    assert kinds(proceeds, act.TakeOwnership) and condition(proceeds.status, "Stalled").status == "False"


def test_pre_pull_runs_before_anything_is_touched_and_a_failing_node_blocks():
    from tests.unit.builders import prepulled
    plan_spec = spec(prePull={"enabled": True, "timeoutSeconds": 60})
    d = decide(plan_spec, UpgradePlanStatus(), observe(), 1)
    assert d.status.phase is Phase.pre_pulling and kinds(d, act.StartPrePull) == [act.StartPrePull(("r/agent:v2",))]
    assert not kinds(d, act.TakeOwnership)
    some = {f"n{i}": prepulled(f"n{i}") for i in range(3)}
    d = decide(plan_spec, UpgradePlanStatus(), replace(observe(), prepull=some), 1)
    assert d.status.phase is Phase.pre_pulling and not d.actions and "3/5" in condition(d.status, "Ready").message
    broken = {**some, "n3": prepulled("n3", pulled=False, failure="ErrImagePull: not found"), "n4": prepulled("n4")}
    d = decide(plan_spec, UpgradePlanStatus(), replace(observe(), prepull=broken), 1)
    assert d.status.phase is Phase.pre_pulling and not d.actions
    assert condition(d.status, "Stalled").status == "True"
    assert "n3: ErrImagePull: not found" in condition(d.status, "ImagesPulled").message
    late = decide(plan_spec, UpgradePlanStatus(), replace(observe(now=T0 + dt.timedelta(seconds=61)), prepull=some), 1)
    assert "n4: not pulled within 60s" in condition(late.status, "Ready").message
    everywhere = {f"n{i}": prepulled(f"n{i}") for i in range(5)}
    d = decide(plan_spec, UpgradePlanStatus(), replace(observe(), prepull=everywhere), 1)
    assert kinds(d, act.EndPrePull) and kinds(d, act.TakeOwnership)
    assert condition(d.status, "ImagesPulled").status == "True"
    stale = {f"n{i}": prepulled(f"n{i}", images=("r/agent:v1.9",)) for i in range(5)}
    d = decide(plan_spec, UpgradePlanStatus(), replace(observe(), prepull=stale), 1)
    assert kinds(d, act.EndPrePull) and not kinds(d, act.StartPrePull) and not kinds(d, act.TakeOwnership)


def test_spiderpool_controller_is_updated_and_rolled_out_before_the_agent():
    from cniupgrade.rollout.observation import DeploymentView
    plan_spec = UpgradePlanSpec.model_validate({"plugin": "spiderpool", "targetVersion": "0.9.5", "namespace": "cni",
                                                "daemonSet": {"name": "agent"}, "prePull": {"enabled": False}})
    old = DeploymentView("spiderpool-controller", {"c": "ghcr.io/spidernet-io/spiderpool/spiderpool-controller:v0.9.4"},
                         True, "")
    new_images = {"c": "ghcr.io/spidernet-io/spiderpool/spiderpool-controller:v0.9.5"}
    agent = {"agent": "ghcr.io/spidernet-io/spiderpool/spiderpool-agent:v0.9.4"}
    d = decide(plan_spec, UpgradePlanStatus(), replace(observe(images=agent), control_plane=(old,)), 1)
    assert d.status.phase is Phase.control_plane
    assert d.actions == [act.SetDeploymentImages("spiderpool-controller", new_images)]
    rolling = DeploymentView("spiderpool-controller", new_images, False, "1/2 updated, 1 available")
    d = decide(plan_spec, UpgradePlanStatus(), replace(observe(images=agent), control_plane=(rolling,)), 1)
    assert not d.actions and "1/2 updated" in condition(d.status, "Ready").message
    done = DeploymentView("spiderpool-controller", new_images, True, "")
    d = decide(plan_spec, UpgradePlanStatus(), replace(observe(images=agent), control_plane=(done,)), 1)
    assert kinds(d, act.TakeOwnership)


def test_a_node_that_goes_not_ready_mid_batch_fails_at_once_and_nothing_else_is_touched():
    from cniupgrade.seams.objects import NodeInfo
    plan_spec, first = start()
    d = decide(plan_spec, first.status, observe(owner=PLAN), 1)  # canary n0 started
    pods = [pod("n0", NEW)] + [pod(f"n{i}") for i in range(1, 5)]
    d = decide(plan_spec, d.status, observe(owner=PLAN, pods=pods), 1)  # canary passed
    obs = observe(owner=PLAN, pods=pods)
    obs = replace(obs, nodes={**obs.nodes, "n1": NodeInfo("n1", ready=False)})
    d = decide(plan_spec, d.status, obs, 1)  # batch n1, n2 starts; n1 is NotReady
    assert d.status.phase is Phase.failed
    failed = {r.name: r for r in d.status.nodes if r.state is NodeState.failed}
    assert list(failed) == ["n1"] and "NotReady" in failed["n1"].message
    assert not kinds(d, act.DeletePod)  # neither n1 nor its batch-mate n2 is touched


def test_what_a_check_leaves_for_after_the_upgrade_is_posted_once_when_the_plan_succeeds():
    from cniupgrade.preflight.framework import Finding, Severity, Verdict
    verdict = Verdict([Finding("x.release", Severity.warning, True, "in line", after_upgrade="move the release"),
                       Finding("x.crds", Severity.error, True, "fine")])
    plan_spec = spec(rollout={"canary": {"count": 0}, "maxUnavailable": 5})
    d = decide(plan_spec, UpgradePlanStatus(), replace(observe(), preflight=verdict), 1)
    assert [(c.id, c.after_upgrade) for c in d.status.checks] == [("x.release", "move the release"), ("x.crds", "")]
    assert not [e for e in d.events if e.reason == "FollowUp"]  # not before the upgrade is done
    all_new = [pod(f"n{i}", NEW) for i in range(5)]
    follow_ups, upgraded = [], []
    for second in range(3):
        d = decide(plan_spec, d.status, observe(owner=PLAN, pods=all_new, now=T0 + dt.timedelta(seconds=second)), 1)
        follow_ups += [e for e in d.events if e.reason == "FollowUp"]
        upgraded += [r.name for r in d.newly_upgraded]
    assert upgraded == ["n0", "n1", "n2", "n3", "n4"]  # each node once, by the decision that passed it (metrics)
    assert d.status.phase is Phase.succeeded
    assert follow_ups == [act.Event("Warning", "FollowUp", "x.release: move the release")]
    assert "1 follow-up(s) to do" in condition(d.status, "Ready").message


def with_node_not_ready(obs, name: str):
    from cniupgrade.seams.objects import NodeInfo
    return replace(obs, nodes={**obs.nodes, name: NodeInfo(name, ready=False)})


def test_a_node_left_out_on_the_previous_agent_keeps_the_daemonset_on_delete_and_is_named():
    """n4 is NotReady, so out of the plan, and still runs the old agent: restoring RollingUpdate at the end would
    let the native controller replace it ungated. The plan succeeds for its nodes, says so, and keeps OnDelete
    (waiting for it first is test_decide_not_ready's)."""
    plan_spec = spec(rollout={"maxUnavailable": 5, "notReadyNodes": {"waitSeconds": 0}})
    first = decide(plan_spec, UpgradePlanStatus(), with_node_not_ready(observe(), "n4"), 1)
    assert "n4: not Ready" in first.status.plan.excluded
    status = first.status
    done = with_node_not_ready(observe(owner=PLAN, revision=NEW, pods=[*(pod(f"n{i}", NEW) for i in range(4)),
                                                                      pod("n4", OLD)]), "n4")
    for _ in range(4):
        d = decide(plan_spec, status, done, 1)
        status = d.status
        if status.phase is Phase.succeeded:
            break
    assert status.phase is Phase.succeeded
    assert kinds(d, act.ReleaseDaemonSet) == [act.ReleaseDaemonSet(None)]  # annotations go, OnDelete stays
    degraded = condition(status, "Degraded")
    assert degraded.status == "True" and degraded.reason == "NodesLeftOnPreviousVersion" and "n4" in degraded.message
