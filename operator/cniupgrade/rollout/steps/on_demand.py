"""A rollback asked for (spec.rollback or the annotation), in any phase: recorded with who asked and when, then
carried out by the rollback step (steps/failure.py) as one after a failed gate is."""
from __future__ import annotations

from cniupgrade.api.status import Phase, RollbackRecord
from cniupgrade.rollout.context import Context, Decision


def rollback_asked(ctx: Context) -> Decision | None:
    request = ctx.rollback
    if request is None or request.key == ctx.status.last_handled_rollback:
        return None
    status = ctx.status
    asked = f"{request.source}" + (f" ({request.reason})" if request.reason and request.key != request.source
                                   else "") + (f" by {request.requested_by}" if request.requested_by else "") + (
        f" at {request.requested_at}" if request.requested_at else "")
    ctx.status = status.model_copy(update={
        "last_handled_rollback": request.key, "completed_at": None,
        "rollback": RollbackRecord(source=request.source, requested_by=request.requested_by,
                                   requested_at=request.requested_at, reason=request.reason,
                                   phase=status.phase.value if status.phase else "")})
    if status.phase in (Phase.rolled_back, Phase.rolling_back):
        ctx.event("RollbackRequested", f"rollback asked for by {asked}: the plan is already {status.phase.value}")
        # rolling back goes on in the rollback step; rolled back stays (and is not planned again)
        return None if status.phase is Phase.rolling_back else ctx.finish(status.phase, ctx.last_reason(),
                                                                          ctx.last_message())
    if not status.started_at:  # the DaemonSet was never taken (migrations that ran are no rollout: they stay)
        ctx.event("RollbackRequested", f"rollback asked for by {asked}: the DaemonSet was not changed, nothing to "
                                       f"roll back", warning=True)
        return ctx.finish(Phase.rolled_back, "RolledBack", f"rollback asked for by {asked} before the DaemonSet "
                                                           f"was changed: nothing to roll back")
    ctx.event("RollbackRequested", f"rollback asked for by {asked} in phase {status.phase.value}: every node the "
                                   f"plan changed goes back to the previous version, the first alone", warning=True)
    ctx.status = ctx.status.model_copy(update={"phase": Phase.rolling_back})
    ctx.wake_in(0)
    return ctx.finish(Phase.rolling_back, "RollingBack", f"rollback asked for by {asked}")
