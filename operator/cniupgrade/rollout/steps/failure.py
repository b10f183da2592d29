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
    ctx.event("RollbackStarted", f"{names} failed the health gate: putting every node this plan changed back on "
                                 f"the previous version", warning=True)
    ctx.actions.append(back_to_previous(ctx))
    ctx.wake_in(0)
    return ctx.finish(Phase.rolling_back, "RollingBack", f"rolling back {names}")


def back_to_previous(ctx: Context) -> act.Action:
    """The DaemonSet's template as before the plan: its previous images, or through a chart (which changed more
    than images) its previous ControllerRevision's template."""
    if restores_revision(ctx):
        return act.RestoreRevision(ctx.status.previous_revision)
    return act.SetImages(ctx.status.previous_images)


def restores_revision(ctx: Context) -> bool:
    return bool(ctx.status.chart and ctx.status.previous_revision)


def at_previous(ctx: Context) -> bool:
    if restores_revision(ctx):
        return ctx.obs.current_revision == ctx.status.previous_revision
    return dict(ctx.obs.daemonset.images) == ctx.status.previous_images


ROLLED_BACK_FROM = (NodeState.failed, NodeState.upgraded, NodeState.upgrading)


def rollback(ctx: Context) -> Decision | None:
    """Rolling back: the previous template again, then every node the plan changed (the failed ones first) has its
    pod replaced, at most maxUnavailable at a time, so that no pod is left for the native controller to replace
    ungated once the strategy is back; then the strategy (through a chart: the release's previous revision)."""
    if ctx.status.phase is not Phase.rolling_back:
        return None
    ds = ctx.obs.daemonset
    if ds.owner != ctx.obs.plan_key:
        # Released at the end (a rollback asked for after Succeeded): held again at OnDelete, in the same patch as
        # the previous images, so the native controller replaces nothing ungated; through a chart, held first.
        images = dict(ds.images) if restores_revision(ctx) else ctx.status.previous_images
        ctx.actions.append(act.TakeOwnership(ctx.obs.plan_key, ctx.status.original_update_strategy or {},
                                             ctx.status.previous_images, images))
    if not at_previous(ctx):
        ctx.actions.append(back_to_previous(ctx))
        ctx.wake_in(RECHECK_SECONDS)
        return ctx.finish(Phase.rolling_back, "RollingBack", "restoring the previous template")
    if not ctx.obs.current_revision:
        return ctx.finish(Phase.rolling_back, "RollingBack", "waiting for the DaemonSet's revision")
    changed = sorted((n for n, r in ctx.nodes.items() if r.state in ROLLED_BACK_FROM and n in ctx.obs.nodes),
                     key=lambda n: ctx.nodes[n].state is not NodeState.failed)
    replacing, stale = [], []
    for name in changed:
        result, pod = ctx.nodes[name], ctx.obs.pod_on(name)
        if pod is not None and pod.revision != ctx.obs.current_revision:
            stale.append((name, pod))
        elif pod is not None and pod.ready:
            why = result.message if result.state is NodeState.failed else (
                "rollback asked for" if ctx.status.rollback else "the plan rolled back")
            ctx.node_update(name, NodeState.rolled_back, f"back on the previous version ({why})", finished_at=ctx.now)
        else:
            replacing.append(name)
    batch = max(ctx.status.plan.max_unavailable if ctx.status.plan else 1, 1)
    if ctx.status.rollback and not any(r.state is NodeState.rolled_back for _, r in ctx.nodes.items()):
        batch = 1  # asked for: the first node goes back alone, as a canary of the previous version
    room = batch - len(replacing)
    ctx.in_flight = set(replacing)
    for name, pod in stale:
        already_down = ctx.nodes[name].state is NodeState.failed
        if already_down or room > 0:
            ctx.actions.append(act.DeletePod(pod.name, pod.uid, name))
            ctx.in_flight.add(name)
            room -= 0 if already_down else 1
    pending = replacing + [name for name, _ in stale]
    if pending:
        ctx.wake_in(RECHECK_SECONDS)
        return ctx.finish(Phase.rolling_back, "RollingBack", f"rolling back {', '.join(sorted(pending))}")
    chart = ctx.status.chart
    if chart:  # helm's rollback gives the strategy back, with every pod already at the template it renders
        ctx.actions += [act.ReleaseDaemonSet(None), act.RollbackRelease(chart.from_revision)]
    else:
        ctx.actions.append(act.ReleaseDaemonSet(ctx.status.original_update_strategy or {}))
    rolled = sorted(n for n, r in ctx.nodes.items() if r.state is NodeState.rolled_back)
    restored = f"helm release back at revision {chart.from_revision}" if chart else "original update strategy restored"
    asked = ctx.status.rollback
    why = f"as asked by {asked.source}" + (f" ({asked.requested_by})" if asked.requested_by else "") if asked \
        else "after a health gate failed"
    return ctx.finish(Phase.rolled_back, "RolledBack",
                      f"{len(rolled)} node(s) rolled back to the previous version {why}"
                      f"{': ' + ', '.join(rolled[:20]) if rolled else ''}{' ...' if len(rolled) > 20 else ''}; "
                      f"{restored}")
