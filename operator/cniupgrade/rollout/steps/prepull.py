"""Every planned node must hold the target images before any agent pod is touched."""
from __future__ import annotations

from cniupgrade.api import conditions as cond
from cniupgrade.api.status import Phase
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.context import RECHECK_SECONDS, Context, Decision
from cniupgrade.rollout.observation import images_digest


def pre_pull(ctx: Context) -> Decision | None:
    if not ctx.spec.pre_pull.enabled or not before_the_daemonset(ctx):
        return None
    nodes = [n for batch in ctx.status.plan.batches for n in batch if n in ctx.obs.nodes]
    pods = ctx.obs.prepull
    images = tuple(sorted(set(ctx.status.target_images.values()) - set(ctx.status.previous_images.values())))
    if not images:
        return None
    if any(p.digest != images_digest(images) for p in pods.values()):
        ctx.actions.append(act.EndPrePull())  # pulling other images (the target changed): start again
        ctx.wake_in(1)
        return ctx.finish(Phase.pre_pulling, "PrePulling", "replacing the pre-pull for the new target")
    if not pods:
        ctx.actions.append(act.StartPrePull(images))
        ctx.event("PrePullStarted", f"pulling {len(images)} image(s) on {len(nodes)} node(s)")
        ctx.wake_in(ctx.spec.pre_pull.timeout_seconds)
        return ctx.finish(Phase.pre_pulling, "PrePulling", f"pulling {', '.join(images)}")
    failed = {n: pods[n].failure for n in nodes if n in pods and pods[n].failure}
    pending = [n for n in nodes if not (n in pods and pods[n].pulled)]
    if not pending:
        ctx.actions.append(act.EndPrePull())
        ctx.event("PrePullSucceeded", f"{', '.join(images)} pulled on all {len(nodes)} node(s)")
        ctx.status = ctx.status.model_copy(update={"conditions": cond.set_condition(
            ctx.status.conditions, cond.IMAGES_PULLED, True, "Pulled", f"pulled on {len(nodes)} node(s)",
            ctx.now, ctx.generation)})
        return None
    started = min((p.created_at for p in pods.values() if p.created_at), default=ctx.obs.now)
    waited = (ctx.obs.now - started).total_seconds()
    if failed or waited > ctx.spec.pre_pull.timeout_seconds:
        reasons = failed or {n: f"not pulled within {ctx.spec.pre_pull.timeout_seconds}s" for n in pending}
        message = "; ".join(f"{n}: {why}" for n, why in sorted(reasons.items())[:10])
        previous = next((c for c in ctx.status.conditions if c.type == cond.IMAGES_PULLED), None)
        ctx.status = ctx.status.model_copy(update={"conditions": cond.set_condition(
            ctx.status.conditions, cond.IMAGES_PULLED, False, "PullFailed", message, ctx.now, ctx.generation)})
        if previous is None or previous.message != message:
            ctx.event("PrePullFailed", f"{len(reasons)} node(s) cannot pull the target images: {message}",
                      warning=True)
        ctx.wake_in(RECHECK_SECONDS)  # the pre-pull DaemonSet keeps retrying; a fixed registry unblocks
        return ctx.finish(Phase.pre_pulling, "ImagePullFailed",
                          f"{len(reasons)} node(s) cannot pull the target images ({message}); no agent pod was "
                          f"touched", blocked=True)
    ctx.wake_in(ctx.spec.pre_pull.timeout_seconds - waited)
    return ctx.finish(Phase.pre_pulling, "PrePulling", f"pulled on {len(nodes) - len(pending)}/{len(nodes)} node(s)")


def before_the_daemonset(ctx: Context) -> bool:
    """The DaemonSet is not this plan's yet and no node has started: the gates before taking it hold."""
    ds = ctx.obs.daemonset
    return ds is not None and ds.owner != ctx.obs.plan_key and not ctx.nodes
