"""The plugin's Deployments go first (the vendor's order), each fully rolled out before the agent."""
from __future__ import annotations

from cniupgrade.api.status import Phase
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.context import Context, Decision
from cniupgrade.rollout.steps.prepull import before_the_daemonset
from cniupgrade.seams.mechanism import mechanism_for
from cniupgrade.seams.plugin import plugin_for


def control_plane(ctx: Context) -> Decision | None:
    if not before_the_daemonset(ctx) or ctx.status.chart:  # the release updates them (steps/release.py)
        return None
    plugin, mechanism = plugin_for(ctx.spec), mechanism_for(ctx.spec)
    for deployment in ctx.obs.control_plane:
        target = mechanism.target_images(plugin, ctx.spec, deployment.images)
        if dict(deployment.images) != target:
            ctx.actions.append(act.SetDeploymentImages(deployment.name, target))
            ctx.event("ControlPlaneUpdating", f"Deployment {deployment.name}: {', '.join(target.values())}")
            return ctx.finish(Phase.control_plane, "ControlPlane", f"updating Deployment {deployment.name}")
        if not deployment.rolled_out:
            return ctx.finish(Phase.control_plane, "ControlPlane",
                              f"waiting for Deployment {deployment.name} ({deployment.message})")
    return None
