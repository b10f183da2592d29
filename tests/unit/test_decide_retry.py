"""The cniupgrade.io/retry annotation: a Failed or RolledBack plan plans again, once per value, without a spec
edit; and when a pass must read the plugin's checks."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

from cniupgrade.api.status import NodeState, Phase, UpgradePlanStatus
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.decide import decide, needs_preflight, spec_digest
from cniupgrade.seams.objects import NodeInfo
from tests.unit.builders import NEW, OLD_IMAGES, PLAN, T0, observe, pod, spec


def kinds(decision, kind):
    return [a for a in decision.actions if isinstance(a, kind)]


def failed_on_a_not_ready_node():
    """The canary n0 passed, then n1 went NotReady in its batch: Failed, the DaemonSet still held (OnDelete)."""
    plan_spec = spec()
    d = decide(plan_spec, UpgradePlanStatus(), observe(), 1)
    d = decide(plan_spec, d.status, observe(owner=PLAN), 1)
    pods = [pod("n0", NEW)] + [pod(f"n{i}") for i in range(1, 5)]
    d = decide(plan_spec, d.status, observe(owner=PLAN, pods=pods), 1)
    obs = observe(owner=PLAN, pods=pods)
    d = decide(plan_spec, d.status, replace(obs, nodes={**obs.nodes, "n1": NodeInfo("n1", ready=False)}), 1)
    assert d.status.phase is Phase.failed
    return plan_spec, d.status, pods


def test_a_failed_plan_retried_resumes_its_daemonset_without_touching_upgraded_nodes():
    plan_spec, failed, pods = failed_on_a_not_ready_node()
    canary = next(r for r in failed.nodes if r.name == "n0")
    healed = observe(owner=PLAN, pods=pods, now=T0 + dt.timedelta(minutes=5))
    d = decide(plan_spec, failed, healed, 1, retry="2026-12-01T22:00:00Z")
    assert d.status.phase is Phase.rolling
    assert d.status.last_handled_retry == "2026-12-01T22:00:00Z" and d.status.completed_at is None
    assert [e.reason for e in d.events][:1] == ["RetryRequested"]
    assert not kinds(d, act.TakeOwnership)
    assert sorted(a.node for a in kinds(d, act.DeletePod)) == ["n1", "n2"]  # the failed batch, started afresh
    # the canary keeps its result and times: it is not gated (nor timed in the metrics) a second time
    assert next(r for r in d.status.nodes if r.name == "n0") == canary and not d.newly_upgraded
    assert {r.name: r.state for r in d.status.nodes} == {"n0": NodeState.upgraded, "n1": NodeState.upgrading,
                                                         "n2": NodeState.upgrading}


def test_a_failed_plan_given_other_images_keeps_no_result():
    plan_spec, failed, pods = failed_on_a_not_ready_node()
    d = decide(spec(targetVersion="v3"), failed, observe(owner=PLAN, pods=pods), 2)
    assert "n0" not in {r.name for r in d.status.nodes if r.state is NodeState.upgraded}


def test_a_retry_value_is_acted_on_once():
    plan_spec, failed, pods = failed_on_a_not_ready_node()
    handled = failed.model_copy(update={"last_handled_retry": "1"})
    obs = observe(owner=PLAN, pods=pods)
    same = decide(plan_spec, handled, obs, 1, retry="1")
    assert same.status.phase is Phase.failed and not same.actions
    assert not [e for e in same.events if e.reason == "RetryRequested"]
    assert decide(plan_spec, handled, obs, 1, retry="2").status.phase is not Phase.failed


def test_a_retry_is_ignored_unless_the_plan_failed_or_rolled_back():
    plan_spec = spec()
    succeeded = UpgradePlanStatus(phase=Phase.succeeded, spec_hash=spec_digest(plan_spec), started_at="t")
    d = decide(plan_spec, succeeded, observe(), 1, retry="1")
    assert d.status.phase is Phase.succeeded and not d.actions and d.status.last_handled_retry is None


def test_a_rolled_back_plan_retried_starts_over_and_takes_the_daemonset_again():
    plan_spec = spec(rollbackOnFailure=True)
    d = decide(plan_spec, UpgradePlanStatus(), observe(), 1)
    d = decide(plan_spec, d.status, observe(owner=PLAN), 1)
    pods = [pod("n0", NEW, ready=False)] + [pod(f"n{i}") for i in range(1, 5)]
    d = decide(plan_spec, d.status, observe(owner=PLAN, pods=pods, now=T0 + dt.timedelta(seconds=61)), 1)
    back = [pod(f"n{i}") for i in range(5)]
    d = decide(plan_spec, d.status, observe(owner=PLAN, pods=back, images=OLD_IMAGES, revision="rev-old"), 1)
    d = decide(plan_spec, d.status, observe(owner=PLAN, pods=back, images=OLD_IMAGES, revision="rev-old"), 1)
    assert d.status.phase is Phase.rolled_back
    released = observe(pods=back, now=T0 + dt.timedelta(minutes=5))  # the DaemonSet as the rollback left it
    again = decide(plan_spec, d.status, released, 1, retry="1")
    assert kinds(again, act.TakeOwnership) and again.status.phase is Phase.canary
    assert again.status.nodes == [] and again.status.last_handled_retry == "1"


def test_a_pass_reads_the_checks_whenever_it_may_plan():
    plan_spec = spec()
    digest = spec_digest(plan_spec)
    assert needs_preflight(plan_spec, UpgradePlanStatus(), None)
    rolling = UpgradePlanStatus(phase=Phase.rolling, spec_hash=digest, started_at="t")
    assert not needs_preflight(plan_spec, rolling, "1")
    done = UpgradePlanStatus(phase=Phase.succeeded, spec_hash=digest, started_at="t")
    assert not needs_preflight(plan_spec, done, None)
    # A finished plan given a new target plans again: its first pass must not start without the checks.
    assert needs_preflight(spec(targetVersion="v3"), done, None)
    failed = done.model_copy(update={"phase": Phase.failed})
    assert needs_preflight(plan_spec, failed, "1")
    assert not needs_preflight(plan_spec, failed.model_copy(update={"last_handled_retry": "1"}), "1")
