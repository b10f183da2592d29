"""The pure reconcile decision: (spec, last status, what the cluster shows now) -> new status + actions.

Nothing here calls the API. Every decision is derived from the cluster's state (pod revisions, the
DaemonSet's owner annotation) and the plan recorded in status, so a restarted operator decides the same.

A decision runs the steps below in order. Each is a small function of the plan and the observation
(rollout/steps/): it ends the decision (a phase to report, actions to take) or lets the next step go on. Steps
before the DaemonSet is taken pass by once the rollout runs; a finished plan stops at the first.
"""
from __future__ import annotations

from typing import Callable

from cniupgrade.api.models import UpgradePlanSpec
from cniupgrade.api.status import TERMINAL_PHASES, UpgradePlanStatus
from cniupgrade.rollout.context import RECHECK_SECONDS, Context, Decision, iso, spec_digest  # noqa: F401
from cniupgrade.rollout import actions as act
from cniupgrade.rollout import change_freeze, in_flight_taint
from cniupgrade.rollout.observation import Observation
from cniupgrade.rollout.rollback_request import RollbackRequest
from cniupgrade.rollout.steps import (checks, control_plane, failure, migrations, nodes, on_demand, prepull, release,
                                      spec_change)
from cniupgrade.rollout.steps.approval import approval
from cniupgrade.rollout.steps.checks import retry_requested
from cniupgrade.seams.plugin import plugin_for

Step = Callable[[Context], Decision | None]


def finished(ctx: Context) -> Decision | None:
    """A finished plan stays as it is until its spec changes or it is retried."""
    if settled(ctx.spec, ctx.status, ctx.retry, ctx.rollback):
        return ctx.finish(ctx.status.phase, ctx.last_reason(), ctx.last_message())
    return None


STEPS: tuple[Step, ...] = (
    finished,                      # a finished plan stays finished
    spec_change.deferred,          # a spec changed mid-rollout: said once, planned for at the end
    checks.out_of_bounds,          # the namespace boundary, before anything else
    on_demand.rollback_asked,      # spec.rollback or cniupgrade.io/rollback: roll back, in any phase
    checks.retry,                  # cniupgrade.io/retry: plan again
    checks.plan,                   # checks' verdict and the computed plan (not once the rollout runs)
    approval,                      # requireApproval
    migrations.migrations,         # the notes' migrations
    migrations.start,              # the rollout starts
    nodes.daemonset_present,
    nodes.daemonset_free,          # another plan holds the DaemonSet
    failure.rollback,              # a rollback in progress (asked for, or after a failed gate)
    nodes.hold,                    # pause and the window, before the DaemonSet is touched
    prepull.pre_pull,              # the target images on every planned node
    control_plane.control_plane,   # the plugin's Deployments first
    nodes.take_daemonset,          # OnDelete with the target images (through a chart: OnDelete only)
    release.upgrade_release,       # through a chart: helm upgrade, the agent held
    release.control_plane_ready,   # through a chart: its Deployments rolled out first
    nodes.images_unchanged,        # nobody changed the images under us
    nodes.revision_known,
    nodes.advance_batches,         # canary, batches, gates; restore and succeed at the end
)                                  # then the plugin's after-success action, when it has one due


def settled(spec: UpgradePlanSpec, status: UpgradePlanStatus, retry: str | None,
            rollback: RollbackRequest | None = None) -> bool:
    """A finished plan that stays finished: its spec is the one it ran for, and no retry or rollback is asked for
    that it has not handled."""
    return (status.phase in TERMINAL_PHASES and status.spec_hash == spec_digest(spec)
            and not retry_requested(status, retry) and not rollback_pending(status, rollback))


def rollback_pending(status: UpgradePlanStatus, rollback: RollbackRequest | None) -> bool:
    return rollback is not None and rollback.key != status.last_handled_rollback


def needs_preflight(spec: UpgradePlanSpec, status: UpgradePlanStatus, retry: str | None,
                    rollback: RollbackRequest | None = None) -> bool:
    """Whether this pass may plan (again), so the plugin's checks must be read: a plan not started yet, or a
    finished one that is not settled (a RolledBack plan has released its DaemonSet); a rollback needs none."""
    if rollback_pending(status, rollback):
        return False
    if status.phase in TERMINAL_PHASES:
        return not settled(spec, status, retry)
    return status.started_at is None


def decide(spec: UpgradePlanSpec, status: UpgradePlanStatus, obs: Observation, generation: int,
           retry: str | None = None, rollback: RollbackRequest | None = None) -> Decision:
    """`retry`: the plan's cniupgrade.io/retry annotation; `rollback`: a rollback asked for (rollback_request)."""
    ctx = Context(spec, status, obs, generation, retry, rollback)
    decision = next(d for step in STEPS if (d := step(ctx)) is not None)  # advance_batches always decides
    in_flight = ctx.in_flight if ctx.in_flight is not None else in_flight_taint.upgrading(ctx.nodes)
    decision.tainted = in_flight_taint.reconcile(spec, decision, obs, in_flight)
    decision.freeze = change_freeze.reconcile(spec, decision, obs)
    if plugin_for(spec).after_success_due(spec, decision.status):
        decision.actions.append(act.RunAfterSuccess())  # after-success: the plugin's own last step
    return decision
