"""requireApproval: the plan and its checks are published; nothing changes until spec.approved is given for
this very spec. A failed check may ask for the same (Finding.needs_approval, e.g. a breaking release) even when
spec.requireApproval is false."""
from __future__ import annotations

from cniupgrade.api.status import Phase, UpgradePlanStatus
from cniupgrade.rollout.context import Context, Decision
from cniupgrade.rollout.steps.checks import awaiting_approval


def checks_asking_approval(ctx: Context) -> list[str]:
    """The failed checks that want the admin's approval before anything changes."""
    verdict = ctx.obs.preflight
    return list(dict.fromkeys(f.check_id for f in verdict.approvals())) if verdict else []


def approval_pending(ctx: Context) -> bool:
    """Whether requireApproval (or a check asking for approval) still holds the plan. spec.approved counts for the
    spec it was given for: this records that spec's digest in status, and forgets it while approved is false (the
    next true approves)."""
    if not ctx.spec.require_approval and not checks_asking_approval(ctx):
        return False
    if not ctx.spec.approved:
        ctx.status = ctx.status.model_copy(update={"approved_spec_hash": None})
        return True
    # What was published when approval came: a plan re-computed in this very pass (its chart renders otherwise
    # now) was not what the approver saw.
    published = ctx.initial if ctx.initial.phase is Phase.awaiting_approval else ctx.status
    approved_for = ctx.status.approved_spec_hash or approval_digest(ctx.digest, published)
    ctx.status = ctx.status.model_copy(update={"approved_spec_hash": approved_for})
    return approved_for != approval_digest(ctx.digest, ctx.status)


def approval_digest(spec_digest: str, status: UpgradePlanStatus) -> str:
    """The spec, and through a chart what it renders (status.chart.manifestDigest): approving a plan approves the
    objects the release will hold."""
    chart = status.chart
    return f"{spec_digest}/{chart.manifest_digest.removeprefix('sha256:')[:16]}" if chart and chart.manifest_digest \
        else spec_digest


def approval(ctx: Context) -> Decision | None:
    if ctx.running:
        return None
    if approval_pending(ctx):
        if ctx.spec.approved:  # left true from an earlier spec
            return ctx.finish(Phase.awaiting_approval, "ApprovalOutdated",
                              "the spec changed after it was approved: set spec.approved: false, review status.plan "
                              "and status.checks, then set it true to start")
        asking = checks_asking_approval(ctx)
        why = f"{', '.join(asking)} ask(s) for approval (see status.checks): " if asking else ""
        return ctx.finish(Phase.awaiting_approval, "AwaitingApproval",
                          f"{why}review status.plan and status.checks, and set spec.approved: true to start")
    if awaiting_approval(ctx):
        ctx.event("Approved", "plan approved; starting the rollout")
    return None
