"""The version notes' migrations, once approved and before any workload changes; then the rollout starts."""
from __future__ import annotations

from cniupgrade.api.status import Phase
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.context import Context, Decision


def migrations(ctx: Context) -> Decision | None:
    if ctx.running:
        return None
    verdict = ctx.obs.preflight
    pending = list(dict.fromkeys(f.migration for f in verdict.migrations())) if verdict else []
    if not pending:
        return None
    ctx.actions.extend(act.RunMigration(m) for m in pending)
    ctx.event("Migrating", f"applying {', '.join(pending)}")
    ctx.wake_in(0)  # then the checks run again on the changed cluster
    return ctx.finish(Phase.migrating, "Migrating", f"applying {', '.join(pending)}")


def start(ctx: Context) -> Decision | None:
    """Nothing holds the plan any more: it enters the rollout (the canary first, when there is one)."""
    if not ctx.running:
        first = Phase.canary if ctx.status.plan and ctx.status.plan.canary_batches else Phase.rolling
        ctx.status = ctx.status.model_copy(update={"phase": first})
    return None
