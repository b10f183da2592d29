"""spec.chart: the release is upgraded to the target chart once the agent is held at OnDelete, and its control
plane rolled out before any node starts."""
from __future__ import annotations

from cniupgrade.rollout import actions as act
from cniupgrade.api.status import ChartRelease
from cniupgrade.rollout.context import Context, Decision
from cniupgrade.seams.objects import RELEASE_ANNOTATION


def release_marker(chart: ChartRelease) -> str:
    return f"{chart.chart}-{chart.version}"


def upgrade_release(ctx: Context) -> Decision | None:
    """The DaemonSet is ours and the release not yet upgraded (its annotation says so, set once helm succeeded;
    not its images, which a chart may leave as they are while changing the rest): helm upgrades the release, the
    agent held."""
    ds, chart = ctx.obs.daemonset, ctx.status.chart
    if chart is None or ds.owner != ctx.obs.plan_key or \
            ds.annotations.get(RELEASE_ANNOTATION) == release_marker(chart):
        return None
    ctx.actions.append(act.UpgradeRelease(hold=True))
    ctx.event("ReleaseUpgrading", f"helm release {chart.namespace}/{chart.release} to {chart.chart}-{chart.version}, "
                                  f"the agent held at OnDelete")
    ctx.wake_in(1)
    return ctx.finish(ctx.status.phase, "Progressing", f"upgrading helm release {chart.release} to "
                                                      f"{chart.chart}-{chart.version}")


def control_plane_ready(ctx: Context) -> Decision | None:
    """The plugin's Deployments, which the release updated, are rolled out before the first node starts."""
    if ctx.status.chart is None or ctx.nodes:
        return None
    for deployment in ctx.obs.control_plane:
        if not deployment.rolled_out:
            return ctx.finish(ctx.status.phase, "ControlPlane",
                              f"waiting for Deployment {deployment.name} ({deployment.message})")
    return None
