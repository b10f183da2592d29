"""A spec changed while the rollout runs is said once and planned for when the rollout ends."""
from __future__ import annotations

import datetime as dt

from cniupgrade.api.status import Phase, UpgradePlanStatus
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.decide import decide
from tests.unit.builders import NEW, PLAN, T0, observe, pod, spec

NODES = 3


def step(plan_spec, status, new: set[str], seconds: int):
    pods = [pod(f"n{i}", NEW if f"n{i}" in new else "rev-old") for i in range(NODES)]
    return decide(plan_spec, status, observe(NODES, pods=pods, owner=PLAN, now=T0 + dt.timedelta(seconds=seconds)), 2)


def deferred_events(decision) -> list[act.Event]:
    return [e for e in decision.events if e.reason == "SpecChangeDeferred"]


def test_a_new_target_mid_rollout_is_said_once_and_the_rollout_goes_on_as_planned():
    planned = spec()
    status = decide(planned, UpgradePlanStatus(), observe(NODES), 1).status
    status = step(planned, status, set(), 1).status  # the canary n0 is in flight
    assert status.phase is Phase.canary and status.target_images

    changed = spec(targetVersion="v3")
    d = step(changed, status, set(), 2)
    [said] = deferred_events(d)
    assert said.type == "Warning" and "stay as planned until this rollout ends" in said.message
    assert d.status.target_images == status.target_images and d.status.spec_hash == status.spec_hash
    assert d.status.deferred_spec_hash and d.status.deferred_spec_hash != status.spec_hash

    again = step(changed, d.status, {"n0"}, 3)
    assert deferred_events(again) == [] and again.status.deferred_spec_hash == d.status.deferred_spec_hash
    status = again.status
    for seconds in range(4, 20):  # to the end of the rollout planned for v2
        status = step(changed, status, {f"n{i}" for i in range(NODES)}, seconds).status
        if status.phase is Phase.succeeded:
            break
    assert status.phase is Phase.succeeded and status.target_images == d.status.target_images

    replanned = step(changed, status, {f"n{i}" for i in range(NODES)}, 30)  # then planned for v3
    assert replanned.status.spec_hash == d.status.deferred_spec_hash
    assert replanned.status.deferred_spec_hash is None and replanned.status.phase is not Phase.succeeded


def test_a_pause_is_no_spec_change():
    planned = spec()
    status = step(planned, decide(planned, UpgradePlanStatus(), observe(NODES), 1).status, set(), 1).status
    d = step(spec(paused=True), status, set(), 2)
    assert deferred_events(d) == [] and d.status.deferred_spec_hash is None


def test_a_plan_not_started_yet_plans_again_without_a_word():
    status = decide(spec(requireApproval=True), UpgradePlanStatus(), observe(NODES), 1).status
    assert status.phase is Phase.awaiting_approval and not status.started_at
    d = decide(spec(requireApproval=True, targetVersion="v3"), status, observe(NODES), 2)
    assert deferred_events(d) == [] and d.status.deferred_spec_hash is None
