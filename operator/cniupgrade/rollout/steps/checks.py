"""Planning from the cluster as it is: the pre-flight checks' verdict, the computed plan, and what blocks it."""
from __future__ import annotations

from cniupgrade.api import conditions as cond
from cniupgrade.api.models import RETRY_ANNOTATION
from cniupgrade.api.status import CheckResult, ComputedPlan, NodeResult, NodeState, Phase, UpgradePlanStatus
from cniupgrade.preflight.framework import MAX_NAMED_OBJECTS, Verdict
from cniupgrade.rollout import in_flight_taint
from cniupgrade.rollout import window as windows
from cniupgrade.rollout.context import RECHECK_SECONDS, Context, Decision
from cniupgrade.rollout.layout import layout_of
from cniupgrade.rollout.node_results import NodeResults
from cniupgrade.rollout.planner import compute_plan
from cniupgrade.seams.mechanism import mechanism_for
from cniupgrade.seams.plugin import plugin_for

PREFLIGHT_RECHECK_SECONDS = 60.0
RETRYABLE_PHASES = frozenset({Phase.failed, Phase.rolled_back})


def retry_requested(status: UpgradePlanStatus, retry: str | None) -> bool:
    """A Failed or RolledBack plan whose retry annotation holds a value not acted on yet."""
    return bool(retry) and retry != status.last_handled_retry and status.phase in RETRYABLE_PHASES


def awaiting_approval(ctx: Context) -> bool:
    """The plan waits for approval of the plan it computed for this very spec: it is not planned again."""
    rendered = ctx.obs.chart.release if ctx.obs.chart else None
    return (ctx.initial.phase is Phase.awaiting_approval and ctx.initial.spec_hash == ctx.digest
            and (rendered is None or rendered == ctx.initial.chart))


def retry(ctx: Context) -> Decision | None:
    """A retried plan plans again from the cluster, as for a changed spec. One that still holds its DaemonSet
    resumes it: nodes that passed keep their results, failed ones start afresh."""
    if not ctx.running and retry_requested(ctx.status, ctx.retry):
        ctx.event("RetryRequested", f"{RETRY_ANNOTATION}={ctx.retry}: planning again from the cluster")
        ctx.status = ctx.status.model_copy(update={"last_handled_retry": ctx.retry, "completed_at": None})
    return None


def out_of_bounds(ctx: Context) -> Decision | None:
    """The plan names a namespace it may not manage: blocked before anything there is read or changed. It plans
    again once the spec is fixed or its namespace is trusted."""
    boundary = ctx.obs.out_of_bounds
    if boundary is None:
        return None
    previously_failed = {c.id for c in ctx.status.checks if c.result == "Failed"}
    checks = check_results(Verdict([boundary]))
    ctx.status = UpgradePlanStatus(
        conditions=cond.set_condition(ctx.status.conditions, cond.PREFLIGHT_PASSED, False, "ChecksFailed",
                                      f"blocked by {boundary.check_id} (see status.checks)", ctx.now, ctx.generation),
        checks=checks, spec_hash=ctx.digest, last_handled_retry=ctx.status.last_handled_retry,
        last_handled_rollback=ctx.status.last_handled_rollback,
        approved_spec_hash=ctx.status.approved_spec_hash)
    report_new_failures(ctx, checks, previously_failed)
    return blocked(ctx, [boundary.check_id], previously_failed)


def plan(ctx: Context) -> Decision | None:
    """Compute the plan from the cluster, with the checks' verdict; stop where something blocks it."""
    if ctx.running or awaiting_approval(ctx):
        return None
    ds = ctx.obs.daemonset
    ds_name = ctx.spec.daemon_set.name if ctx.spec.daemon_set else "?"
    if ds is None:
        ctx.status = ctx.status.model_copy(update={"spec_hash": ctx.digest})
        ctx.status = ctx.status.model_copy(update={"conditions": cond.set_condition(
            ctx.status.conditions, cond.PREFLIGHT_PASSED, False, "DaemonSetNotFound",
            f"DaemonSet {ctx.spec.namespace}/{ds_name} not found", ctx.now, ctx.generation)})
        return ctx.finish(Phase.failed, "DaemonSetNotFound", f"DaemonSet {ctx.spec.namespace}/{ds_name} not found")
    if ctx.obs.other_owner_alive and ds.owner != ctx.obs.plan_key:
        ctx.wake_in(RECHECK_SECONDS)
        return ctx.finish(Phase.waiting, "DaemonSetBusy", f"UpgradePlan {ds.owner} is rolling DaemonSet "
                                                          f"{ds.namespace}/{ds.name}; this plan starts when it is done")
    try:
        if ctx.spec.window:
            windows.is_open(ctx.spec.window, ctx.obs.now)
    except windows.InvalidWindow as exc:
        return ctx.finish(Phase.failed, "InvalidWindow", str(exc))

    ours = ds.owner == ctx.obs.plan_key  # resuming after a restart: the DaemonSet remembers the past
    previous = dict(ds.recorded_previous_images or {}) if ours else dict(ds.images)
    original = dict(ds.recorded_original_strategy or {}) if ours else dict(ds.update_strategy)
    plugin = plugin_for(ctx.spec)
    target = mechanism_for(ctx.spec).target_images(plugin, ctx.spec, previous,
                                                   ctx.obs.chart.agent_images if ctx.obs.chart else None)
    computed: ComputedPlan = compute_plan(ctx.obs.agent_nodes, ctx.obs.agents.placed, ctx.spec.rollout,
                                          ctx.obs.excluded_nodes)
    nodes_total = sum(len(b) for b in computed.batches)
    replanned = computed != ctx.status.plan
    checks = check_results(ctx.obs.preflight)
    if (untolerated := in_flight_taint.check(ctx.spec, ds.placement, ctx.obs.plan_key)) is not None:
        checks.append(untolerated)
    blocking = blocking_checks(ctx) + ([untolerated.id] if untolerated and ctx.spec.preflight.warnings_block else [])
    previously_failed = {c.id for c in ctx.status.checks if c.result == "Failed"}
    summary = (f"{nodes_total} node(s) in {len(computed.batches)} batch(es), {len(computed.excluded)} excluded"
               + (f"; {len(checks)} check(s) run" if checks else ""))
    ctx.status = UpgradePlanStatus(
        conditions=cond.set_condition(
            ctx.status.conditions, cond.PREFLIGHT_PASSED, not blocking,
            "ChecksFailed" if blocking else "ChecksPassed",
            f"blocked by {', '.join(blocking)} (see status.checks)" if blocking else summary,
            ctx.now, ctx.generation),
        from_version=ctx.obs.installed_version or plugin.installed_version(previous),
        target_images=target, previous_images=previous, checks=checks,
        previous_revision=ctx.initial.previous_revision if ours else ctx.obs.current_revision,
        original_update_strategy=original, plan=computed, spec_hash=ctx.digest,
        chart=ctx.obs.chart.release if ctx.obs.chart else None,
        last_handled_retry=ctx.status.last_handled_retry,
        last_handled_rollback=ctx.status.last_handled_rollback, approved_spec_hash=ctx.status.approved_spec_hash,
        started_at=(ctx.status.started_at or ctx.now) if ours else None)
    report_new_failures(ctx, checks, previously_failed)
    if blocking and not ours:
        return blocked(ctx, blocking, previously_failed)
    ctx.nodes = NodeResults(passed_nodes(ctx, computed, target) if ours else ())
    if replanned:
        ctx.event("PlanComputed", f"{nodes_total} node(s) in {len(computed.batches)} batch(es) of at most "
                                  f"{computed.max_unavailable}; canary: "
                                  f"{', '.join(computed.batches[0]) if computed.canary_batches else 'none'}")
    if replanned and target == previous and not ours:
        ctx.event("AlreadyAtTarget", f"DaemonSet {ds.namespace}/{ds.name} already runs the target images")
    return None


def report_new_failures(ctx: Context, checks: list[CheckResult], previously_failed: set[str]) -> None:
    for check in checks:  # each finding once, when it first fails
        if check.result == "Failed" and check.id not in previously_failed:
            objects = f" [{', '.join(check.objects)}]" if check.objects else ""
            ctx.event("CheckFailed", f"{check.id} ({check.severity}): {check.message}{objects}",
                      warning=check.severity != "Info")


def blocked(ctx: Context, blocking: list[str], previously_failed: set[str]) -> Decision:
    ctx.nodes = NodeResults()
    if not set(blocking) <= previously_failed:
        ctx.event("PreflightBlocked", f"blocked by {', '.join(blocking)}; see status.checks", warning=True)
    ctx.wake_in(PREFLIGHT_RECHECK_SECONDS)  # fixing the cluster unblocks the plan
    return ctx.finish(Phase.preflight, "PreflightBlocked",
                      f"pre-flight checks failed: {', '.join(blocking)}; see status.checks", blocked=True)


def passed_nodes(ctx: Context, computed: ComputedPlan, target: dict[str, str]) -> list[NodeResult]:
    """Resuming a DaemonSet this plan holds, for the same images (a retry, a longer timeout): the nodes that
    passed their gate keep their results and times instead of passing again."""
    if ctx.initial.target_images != target:
        return []
    planned = layout_of(computed).position
    return [r for r in ctx.initial.nodes if r.state is NodeState.upgraded and r.name in planned]


def blocking_checks(ctx: Context) -> list[str]:
    """Failed checks that stop the plan; a fix the operator cannot carry out yet blocks too."""
    verdict = ctx.obs.preflight
    if verdict is None:
        return []
    blocking = verdict.blocking(ctx.spec.preflight.warnings_block)
    if not ctx.spec.migrations.enabled:
        blocking += verdict.migrations()
    return [f.check_id for f in verdict.findings if f in blocking]


def check_results(verdict: Verdict | None) -> list[CheckResult]:
    if verdict is None:
        return []
    results = [CheckResult(id=f.check_id, severity=f.severity.value, result="Passed" if f.passed else "Failed",
                           message=f.message, remediation="" if f.passed else f.remediation,
                           objects=list(f.objects[:MAX_NAMED_OBJECTS]),
                           migration="" if f.passed else (f.migration or ""), after_upgrade=f.after_upgrade)
               for f in verdict.findings]
    return results + [CheckResult(id=i, severity="Info", result="Skipped", message="skipped by spec.preflight.skip")
                      for i in verdict.skipped]
