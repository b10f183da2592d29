"""A spec changed while the rollout runs: what the plan was made of (target, images, DaemonSet, batches,
migrations) was fixed when it started, so the change is planned for when it ends; said once per change, with what
acts at once (a plan that replanned halfway would leave nodes on two targets, each gated against another)."""
from __future__ import annotations

from cniupgrade.rollout.context import Context, Decision

ACTS_AT_ONCE = ("paused", "approved", "window", "rollback", "changeFreeze", "rollbackOnFailure", "rollout.mode",
                "rollout.nodeTimeoutSeconds", "rollout.batchDelaySeconds", "rollout.probe",
                "rollout.notReadyNodes", "rollout.taintInFlight")


def deferred(ctx: Context) -> Decision | None:
    status = ctx.status
    if not ctx.running or status.spec_hash in (None, ctx.digest) or status.deferred_spec_hash == ctx.digest:
        return None
    ctx.event("SpecChangeDeferred",
              f"the spec changed while the plan is {status.phase.value if status.phase else 'running'}: its target, "
              f"images and node batches stay as planned until this rollout ends, then it plans again for the new "
              f"spec (these act at once: {', '.join(ACTS_AT_ONCE)})", warning=True)
    ctx.status = status.model_copy(update={"deferred_spec_hash": ctx.digest})
    return None
