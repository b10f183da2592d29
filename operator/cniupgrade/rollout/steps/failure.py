"""A node failed its gate: stop, or put the failed nodes back on the previous images."""
from __future__ import annotations

from cniupgrade.api.models import RETRY_ANNOTATION
from cniupgrade.api.status import NodeState, Phase
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.context import RECHECK_SECONDS, Context, Decision


def on_failure(ctx: Context, failed: list[str]) -> Decision:
    names = ", ".join(sorted(failed))
    if not ctx.spec.rollback_on_failure:
        return ctx.finish(Phase.failed, "NodeHealthGateFailed",
                          f"health gate failed on {names}; stopped. The DaemonSet stays on OnDelete so no "
                          f"other node takes the new version: fix the cause and retry (give the annotation "
                          f"{RETRY_ANNOTATION} a new value), or delete the plan to restore the original update "
                          f"strategy")
    ctx.status = ctx.status.model_copy(update={"phase": Phase.rolling_back})
    ctx.event("RollbackStarted", f"putting {names} back on the previous images", warning=True)
    ctx.actions.append(act.SetImages(ctx.status.previous_images))
    ctx.wake_in(0)
    return ctx.finish(Phase.rolling_back, "RollingBack", f"rolling back {names}")


def rollback(ctx: Context) -> Decision | None:
    """Rolling back: the previous images again, the failed nodes' pods replaced, then the strategy restored."""
    if ctx.status.phase is not Phase.rolling_back:
        return None
    ds = ctx.obs.daemonset
    if dict(ds.images) != ctx.status.previous_images:
        ctx.actions.append(act.SetImages(ctx.status.previous_images))
        ctx.wake_in(0)
        return ctx.finish(Phase.rolling_back, "RollingBack", "restoring the previous images")
    if not ctx.obs.current_revision:
        return ctx.finish(Phase.rolling_back, "RollingBack", "waiting for the DaemonSet's revision")
    pending = []
    for name, result in list(ctx.nodes.items()):
        if result.state is not NodeState.failed or name not in ctx.obs.nodes:
            continue
        pod = ctx.obs.pod_on(name)
        if pod is not None and pod.revision != ctx.obs.current_revision:
            ctx.actions.append(act.DeletePod(pod.name, pod.uid, name))
            pending.append(name)
        elif pod is not None and pod.ready:
            ctx.node_update(name, NodeState.rolled_back, f"back on the previous images ({result.message})",
                            finished_at=ctx.now)
        else:
            pending.append(name)
    if pending:
        ctx.wake_in(RECHECK_SECONDS)
        return ctx.finish(Phase.rolling_back, "RollingBack", f"rolling back {', '.join(sorted(pending))}")
    ctx.actions.append(act.ReleaseDaemonSet(ctx.status.original_update_strategy or {}))
    rolled = sorted(n for n, r in ctx.nodes.items() if r.state is NodeState.rolled_back)
    return ctx.finish(Phase.rolled_back, "RolledBack",
                      f"{', '.join(rolled)} rolled back to the previous images after failing the health gate; "
                      f"original update strategy restored")
