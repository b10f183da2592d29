"""The chart path's steps: the DaemonSet is taken without an image patch, the release upgraded (the agent held)
until the DaemonSet's annotation says so, the nodes rolled, and at the end our annotations leave before the
release's last upgrade gives the strategy back."""
from __future__ import annotations

from dataclasses import replace

from cniupgrade.api.status import ChartRelease, Phase, UpgradePlanStatus
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.decide import decide
from cniupgrade.rollout.observation import RenderedChart
from cniupgrade.seams.objects import RELEASE_ANNOTATION
from tests.unit.builders import NEW, NEW_IMAGES, OLD_IMAGES, PLAN, observe, pod, spec

CHART = ChartRelease(release="cni", namespace="cni", chart="cni", version="2.0.0", repository="https://c.example",
                     values={"a": 1}, hold_values={"agent": {"updateStrategy": {"type": "OnDelete"}}})


def chart_spec():
    return spec(serviceAccountName="upgrader", chart={"repository": "https://c.example"})


def rendered() -> RenderedChart:
    return RenderedChart(CHART, {"DaemonSet cni/agent": NEW_IMAGES}, "DaemonSet cni/agent")


def owned(images, annotated: bool, **kw):
    obs = observe(owner=PLAN, images=images, **kw)
    if annotated:
        obs = replace(obs, daemonset=replace(obs.daemonset, annotations={
            **obs.daemonset.annotations, RELEASE_ANNOTATION: "cni-2.0.0"}))
    return obs


def kinds(decision, kind):
    return [a for a in decision.actions if isinstance(a, kind)]


def test_the_daemonset_is_held_then_the_release_upgraded_then_the_nodes_rolled():
    plan_spec = chart_spec()
    first = decide(plan_spec, UpgradePlanStatus(), replace(observe(), chart=rendered()), generation=1)
    (take,) = kinds(first, act.TakeOwnership)
    assert take.target_images == OLD_IMAGES  # held at OnDelete, no image patch: the release changes the template
    assert first.status.chart == CHART and first.status.target_images == NEW_IMAGES

    second = decide(plan_spec, first.status, owned(OLD_IMAGES, annotated=False), generation=1)
    assert kinds(second, act.UpgradeRelease) == [act.UpgradeRelease(hold=True)]
    assert not kinds(second, act.DeletePod)

    again = decide(plan_spec, second.status, owned(OLD_IMAGES, annotated=False), generation=1)
    assert kinds(again, act.UpgradeRelease) == [act.UpgradeRelease(hold=True)]  # until the annotation says so

    third = decide(plan_spec, second.status, owned(NEW_IMAGES, annotated=True), generation=1)
    assert not kinds(third, act.UpgradeRelease) and kinds(third, act.DeletePod)


def test_a_chart_that_keeps_the_images_still_upgrades_the_release_first():
    """A chart may change env or commands and not images: the release is upgraded all the same, before any node."""
    plan_spec = chart_spec()
    same = RenderedChart(CHART, {"DaemonSet cni/agent": OLD_IMAGES}, "DaemonSet cni/agent")
    first = decide(plan_spec, UpgradePlanStatus(), replace(observe(), chart=same), generation=1)
    second = decide(plan_spec, first.status, owned(OLD_IMAGES, annotated=False), generation=1)
    assert kinds(second, act.UpgradeRelease) == [act.UpgradeRelease(hold=True)]


def test_at_the_end_our_annotations_leave_before_the_release_gives_the_strategy_back():
    plan_spec = chart_spec()
    first = decide(plan_spec, UpgradePlanStatus(), replace(observe(), chart=rendered()), generation=1)
    status = first.status
    obs = owned(NEW_IMAGES, annotated=True, pods=[pod(f"n{i}", NEW) for i in range(5)], revision=NEW)
    for _ in range(4):  # each pass gates the nodes in flight
        decision = decide(plan_spec, status, obs, generation=1)
        status = decision.status
        if status.phase is Phase.succeeded:
            break
    assert status.phase is Phase.succeeded
    assert decision.actions[-2:] == [act.ReleaseDaemonSet(None), act.UpgradeRelease(hold=False)]


def test_approval_covers_what_the_chart_renders():
    """A chart that renders otherwise after approval was given (a re-published chart, changed values) is not what
    the approver saw: the plan is computed again and asks for approval again."""
    gated = chart_spec().model_copy(update={"require_approval": True})
    seen = RenderedChart(CHART.model_copy(update={"manifest_digest": "sha256:" + "a" * 64}),
                         {"DaemonSet cni/agent": NEW_IMAGES}, "DaemonSet cni/agent")
    published = decide(gated, UpgradePlanStatus(), replace(observe(), chart=seen), generation=1)
    assert published.status.phase is Phase.awaiting_approval
    approved = gated.model_copy(update={"approved": True})
    assert kinds(decide(approved, published.status, replace(observe(), chart=seen), 2), act.TakeOwnership)

    other = replace(seen, release=seen.release.model_copy(update={"manifest_digest": "sha256:" + "b" * 64}))
    outdated = decide(approved, published.status, replace(observe(), chart=other), 2)
    assert not outdated.actions and outdated.status.phase is Phase.awaiting_approval
    assert outdated.status.chart.manifest_digest == other.release.manifest_digest  # the new render is published
    assert [c.reason for c in outdated.status.conditions if c.type == "Ready"] == ["ApprovalOutdated"]
    again = decide(gated, outdated.status, replace(observe(), chart=other), 3)  # approved: false, then true
    assert kinds(decide(approved, again.status, replace(observe(), chart=other), 4), act.TakeOwnership)


def test_a_failed_chart_plan_rolls_every_changed_node_back_then_the_release():
    """Through a chart the template changed beyond images: its previous ControllerRevision is restored; every node
    the plan changed (failed first) is rolled back, at most maxUnavailable healthy ones at a time; only then helm
    rolls the release back, with every pod at the template it renders."""
    from cniupgrade.api.status import NodeResult, NodeState
    from tests.unit.builders import OLD
    plan_spec = chart_spec().model_copy(update={"rollback_on_failure": True})
    first = decide(plan_spec, UpgradePlanStatus(), replace(observe(), chart=rendered()), generation=1)
    assert first.status.previous_revision == OLD  # the revision before the plan took the DaemonSet
    chart = first.status.chart.model_copy(update={"from_revision": 3})
    status = first.status.model_copy(update={
        "phase": Phase.rolling_back, "chart": chart, "plan": first.status.plan.model_copy(update={"max_unavailable": 1}),
        "nodes": [NodeResult(name="n0", state=NodeState.failed, message="not Ready"),
                  NodeResult(name="n1", state=NodeState.upgraded), NodeResult(name="n2", state=NodeState.upgraded)]})
    changed_pods = [pod("n0", NEW, ready=False), pod("n1", NEW), pod("n2", NEW), pod("n3"), pod("n4")]

    d = decide(plan_spec, status, owned(NEW_IMAGES, True, pods=changed_pods, revision=NEW), 1)
    assert kinds(d, act.RestoreRevision) == [act.RestoreRevision(OLD)] and not kinds(d, act.DeletePod)

    d = decide(plan_spec, status, owned(NEW_IMAGES, True, pods=changed_pods, revision=OLD), 1)
    assert [a.node for a in kinds(d, act.DeletePod)] == ["n0", "n1"]  # the failed one, and one healthy at a time
    assert d.status.phase is Phase.rolling_back and not kinds(d, act.RollbackRelease)

    back = [pod(n) for n in ("n0", "n1", "n2", "n3", "n4")]
    d = decide(plan_spec, status, owned(OLD_IMAGES, True, pods=back, revision=OLD), 1)
    assert d.status.phase is Phase.rolled_back
    assert d.actions[-2:] == [act.ReleaseDaemonSet(None), act.RollbackRelease(3)]
    assert {n.name: n.state for n in d.status.nodes} == {n: NodeState.rolled_back for n in ("n0", "n1", "n2")}
