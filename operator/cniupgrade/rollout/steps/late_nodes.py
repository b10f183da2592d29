"""Nodes that joined the cluster after the plan was made (an autoscaler's, say): once every planned batch is done,
the Ready ones join the plan as a batch of their own, under the same gates (one that came up with the previous
agent is upgraded; one that came up with the new agent is gated and counted); NotReady ones are left out as
NotReady when planned (steps/not_ready.py waits for those on the previous agent). So every agent node the
cluster shows at the end is accounted for, and none is left on the previous agent by a Succeeded plan."""
from __future__ import annotations

from cniupgrade.api.status import Phase
from cniupgrade.rollout.context import Context, Decision
from cniupgrade.rollout.layout import layout_of
from cniupgrade.rollout.planner import NO_AGENT_POD, chunk, compute_plan, left_out
from cniupgrade.rollout.steps.not_ready import names


def joined_since_planned(ctx: Context) -> Decision | None:
    """None: no agent node outside the plan, or only NotReady ones (added to the plan's exclusions here). A node
    left out for having no agent pod yet is seen again once it has one."""
    plan = ctx.status.plan
    known = layout_of(plan).position.keys() | {n for n, why in left_out(plan).items() if why != NO_AGENT_POD}
    placed = ctx.obs.agents.placed  # a node without its agent pod yet is seen again once the DaemonSet made it
    new = [node for node in ctx.obs.agent_nodes if node.name not in known and node.name in placed]
    if not new:
        return None
    joined = compute_plan(new, placed, ctx.spec.rollout)
    ready = [name for batch in joined.batches for name in batch]
    seen = {node.name for node in new}
    ctx.status = ctx.status.model_copy(update={"plan": plan.model_copy(update={
        "batches": plan.batches + chunk(ready, plan.max_unavailable),
        "excluded": [f"{n}: {why}" for n, why in left_out(plan).items() if n not in seen] + joined.excluded})})
    ctx.event("NodesJoined", f"{len(new)} node(s) joined the cluster (or got their agent pod) after the plan was "
                             f"made: {len(ready)} join the plan as a batch of their own ({names(ready) or 'none'}), "
                             f"{len(joined.excluded)} left out (status.plan.excluded)")
    if not ready:
        return None
    ctx.wake_in(0)
    return ctx.finish(Phase.rolling, "Progressing", f"{len(ready)} node(s) that joined the cluster join the plan")
