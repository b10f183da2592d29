"""Nodes NotReady when the plan was made: after the last batch the plan waits for them (spec.rollout.notReadyNodes);
one that turns Ready joins the plan as a batch of its own, under the same gates; at the end of the wait they fail
the plan or leave it Succeeded and Degraded, by policy. Their old agents are never left to the native controller."""
from __future__ import annotations

from cniupgrade.api.models import NotReadyAction
from cniupgrade.api.status import Phase, parse_time
from cniupgrade.rollout.context import Context, Decision
from cniupgrade.rollout.planner import chunk, left_out, not_ready_when_planned

NAMED = 20


def waiting_for_not_ready(ctx: Context) -> Decision | None:
    """None: no such node is left on the previous agent, or the wait is over and the policy lets the plan end."""
    plan = ctx.status.plan
    stranded = [name for name in not_ready_when_planned(plan) if name in ctx.obs.nodes
                and (pod := ctx.obs.pod_on(name)) is not None and pod.revision != ctx.obs.current_revision]
    if not stranded:
        return None
    ready = [name for name in stranded if ctx.obs.nodes[name].ready]
    if ready:
        joined = set(ready)
        ctx.status = ctx.status.model_copy(update={"plan": plan.model_copy(update={
            "batches": plan.batches + chunk(ready, plan.max_unavailable),
            "excluded": [f"{n}: {why}" for n, why in left_out(plan).items() if n not in joined]})})
        ctx.event("NodesReadyAgain", f"{len(ready)} node(s) NotReady when planned are Ready now and join the plan: "
                                     f"{names(ready)}")
        ctx.wake_in(0)
        return ctx.finish(Phase.rolling, "Progressing", f"{len(ready)} node(s) Ready again join the plan")
    policy = ctx.spec.rollout.not_ready_nodes
    since = parse_time(ctx.status.last_batch_finished_at or ctx.status.started_at)
    remaining = policy.wait_seconds - (ctx.obs.now - since).total_seconds()
    if remaining > 0:
        ctx.wake_in(remaining)  # and sooner: a node turning Ready wakes the loop through the node watch
        return ctx.finish(Phase.rolling, "WaitingForNotReadyNodes",
                          f"every planned node is upgraded; waiting up to {remaining:.0f}s more for {len(stranded)} "
                          f"node(s) NotReady when planned: {names(stranded)}")
    if policy.then is NotReadyAction.fail:
        return ctx.finish(Phase.failed, "NodesNotReady",
                          f"{len(stranded)} node(s) still NotReady after {policy.wait_seconds}s run the previous "
                          f"agent: {names(stranded)}. The DaemonSet stays OnDelete so that none is replaced "
                          f"ungated: retry the plan once they are back, or delete it to restore the strategy")
    return None  # Degrade: the plan succeeds; Degraded names them and the DaemonSet stays OnDelete


def names(nodes: list[str]) -> str:
    return ", ".join(nodes[:NAMED]) + (" ..." if len(nodes) > NAMED else "")
