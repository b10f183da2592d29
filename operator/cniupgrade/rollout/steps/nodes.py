"""The nodes: the DaemonSet taken, then the canary and the batches (or the sliding window), each node's health
gate, and at the end the original update strategy restored."""
from __future__ import annotations

from itertools import islice

from cniupgrade.api.models import RolloutMode
from cniupgrade.api.status import NodeState, Phase, parse_time, upgraded_message
from cniupgrade.rollout import actions as act
from cniupgrade.rollout import window as windows
from cniupgrade.rollout.context import RECHECK_SECONDS, Context, Decision, iso
from cniupgrade.rollout.layout import PlanLayout, layout_of
from cniupgrade.rollout.steps.failure import on_failure
from cniupgrade.rollout.steps.late_nodes import joined_since_planned
from cniupgrade.rollout.steps.not_ready import waiting_for_not_ready
from cniupgrade.rollout.steps.prepull import before_the_daemonset


def daemonset_present(ctx: Context) -> Decision | None:
    if ctx.obs.daemonset is None:
        return ctx.finish(Phase.failed, "DaemonSetNotFound", "the DaemonSet was deleted during the rollout")
    return None


def daemonset_free(ctx: Context) -> Decision | None:
    """Another plan that still exists holds the DaemonSet: this one waits for it."""
    ds = ctx.obs.daemonset
    if ds.owner != ctx.obs.plan_key and ctx.obs.other_owner_alive:
        ctx.wake_in(RECHECK_SECONDS)
        return ctx.finish(Phase.waiting, "DaemonSetBusy", f"UpgradePlan {ds.owner} holds the DaemonSet")
    return None


def hold(ctx: Context) -> Decision | None:
    """Pause and the window hold before the DaemonSet is touched."""
    return hold_before_batch(ctx, 0) if before_the_daemonset(ctx) else None


def take_daemonset(ctx: Context) -> Decision | None:
    """One patch: owner annotation, recorded original strategy and images, OnDelete, the target images."""
    ds, status = ctx.obs.daemonset, ctx.status
    if ds.owner == ctx.obs.plan_key:
        return None
    # Through a chart the release changes the template (steps/release.py): taking it only holds it at OnDelete.
    images = dict(ds.images) if status.chart else status.target_images
    ctx.actions.append(act.TakeOwnership(ctx.obs.plan_key, status.original_update_strategy or {},
                                         status.previous_images, images))
    ctx.status = ctx.status.model_copy(update={"started_at": status.started_at or ctx.now})
    ctx.event("DaemonSetPrepared", f"DaemonSet {ds.namespace}/{ds.name} set to OnDelete with the "
                                   f"target images; nodes are replaced batch by batch")
    ctx.wake_in(0)
    return ctx.finish(status.phase, "Progressing", "preparing the DaemonSet")


def images_unchanged(ctx: Context) -> Decision | None:
    ds = ctx.obs.daemonset
    if dict(ds.images) != ctx.status.target_images:
        return ctx.finish(Phase.failed, "DaemonSetChanged",
                          f"DaemonSet {ds.namespace}/{ds.name} images were changed by someone else during the "
                          f"rollout ({dict(ds.images)}); stopped. It stays on OnDelete: restore it or delete "
                          f"this plan")
    return None


def revision_known(ctx: Context) -> Decision | None:
    if not ctx.obs.current_revision:
        return ctx.finish(ctx.status.phase, "Progressing", "waiting for the DaemonSet's new revision")
    return None


def _node_done(ctx: Context, name: str) -> bool:
    result = ctx.nodes.get(name)
    return name not in ctx.obs.nodes or (result is not None and result.state is NodeState.upgraded)


def collect_probes(ctx: Context, keep: set[str]) -> None:
    """A probe pod only lives while its node waits for it; any other is removed (e.g. left by a crash)."""
    for node, probe in ctx.obs.probes.items():
        if node not in keep:
            ctx.actions.append(act.DeleteProbe(probe.name))


def _failed(ctx: Context) -> list[str]:
    return ctx.nodes.failed()


def account_removed(ctx: Context) -> None:
    """A planned node that left the cluster before it was done ends Removed: it has nothing left to upgrade."""
    for name in layout_of(ctx.status.plan).position.keys() - ctx.obs.nodes.keys():
        result = ctx.nodes.get(name)
        if result is None or result.state is NodeState.upgrading:
            ctx.node_update(name, NodeState.removed, "the node left the cluster during the plan",
                            started_at=result.started_at if result else ctx.now, finished_at=ctx.now)


def advance_batches(ctx: Context) -> Decision:
    plan = ctx.status.plan
    account_removed(ctx)
    if ctx.obs.probes:
        collect_probes(ctx, {n for n in ctx.nodes.unfinished if ctx.nodes[n].state is NodeState.upgrading})
    if ctx.obs.prepull:  # left over from the pre-pull (say the operator stopped right after it)
        ctx.actions.append(act.EndPrePull())
    if _failed(ctx):
        return on_failure(ctx, _failed(ctx))
    # The canary is always lock-step; after it, Window mode slides (advance_window), Batches mode does not.
    lock_step = plan.canary_batches if ctx.spec.rollout.mode is RolloutMode.window else len(plan.batches)
    for index, batch in enumerate(plan.batches[:lock_step]):
        if all(_node_done(ctx, n) for n in batch):
            continue
        phase = Phase.canary if index < plan.canary_batches else Phase.rolling
        if not any(n in ctx.nodes for n in batch):
            hold = hold_before_batch(ctx, index)
            if hold:
                return hold
            lost = lost_agents(ctx)
            if len(lost) + len(batch) > plan.max_unavailable:
                return ctx.finish(phase, "AgentsNotReady",
                                  f"batch {index + 1}/{len(plan.batches)} waits: {lost_message(lost)}")
            _batch_started(ctx, index)
        ctx.status = ctx.status.model_copy(update={"current_batch": index})
        step_nodes(ctx, batch)
        if _failed(ctx):
            return on_failure(ctx, _failed(ctx))
        if all(_node_done(ctx, n) for n in batch):
            _batch_passed(ctx, index)
            ctx.wake_in(0)  # the next batch starts on the next pass, decided afresh
        return ctx.finish(phase, "Progressing", f"batch {index + 1}/{len(plan.batches)}")
    if lock_step < len(plan.batches):
        sliding = advance_window(ctx, lock_step)
        if sliding:
            return sliding
    joining = joined_since_planned(ctx)
    if joining:
        return joining
    waiting = waiting_for_not_ready(ctx)
    if waiting:
        return waiting
    left = left_on_previous(ctx)
    if left:  # their pods would be replaced by the native controller, ungated: the DaemonSet stays OnDelete
        ctx.actions.append(act.ReleaseDaemonSet(None))
        ctx.left_behind = left
    elif ctx.status.chart:
        # Our annotations go first, on the DaemonSet as decided from; then the release, as the user's values say,
        # gives it its strategy back (the template is as it is: nothing restarts). The other order made the
        # annotations' patch conflict with helm's change and the pass, decided again, upgrade the release twice.
        ctx.actions += [act.ReleaseDaemonSet(None), act.UpgradeRelease(hold=False)]
    else:
        ctx.actions.append(act.ReleaseDaemonSet(ctx.status.original_update_strategy or {}))
    total = sum(len(b) for b in plan.batches)
    ctx.event("UpgradeSucceeded", f"all {total} planned node(s) upgraded; " + (
        f"the DaemonSet stays OnDelete: {len(left)} excluded node(s) still run the previous agent" if left
        else "update strategy restored"), warning=bool(left))
    follow_ups = [c for c in ctx.status.checks if c.after_upgrade]
    for check in follow_ups:
        ctx.event("FollowUp", f"{check.id}: {check.after_upgrade}", warning=True)
    return ctx.finish(Phase.succeeded, "Succeeded", f"upgraded {total} node(s) to {ctx.spec.target_version}"
                      + (f"; {len(follow_ups)} follow-up(s) to do: see status.checks[].afterUpgrade"
                          if follow_ups else ""))


def left_on_previous(ctx: Context) -> list[str]:
    """Nodes outside the plan (excluded) whose agent pod is not at the DaemonSet's current revision."""
    planned = {n for batch in ctx.status.plan.batches for n in batch}
    return sorted(node for node, pod in ctx.obs.agents.live.items() if node not in planned
                  and node in ctx.obs.nodes and pod.revision != ctx.obs.current_revision)


def advance_window(ctx: Context, first: int) -> Decision | None:
    """At most maxUnavailable nodes in flight; the next node in plan order starts as soon as one passes.
    Returns None once every node from batch `first` on is done. A pass looks at the nodes in flight and the
    next ones only: a 1000-node plan is decided many times a second."""
    plan, layout = ctx.status.plan, layout_of(ctx.status.plan)
    begin = layout.batch_start[first]
    in_flight = sorted((n for n in ctx.nodes.unfinished
                        if layout.position.get(n, -1) >= begin and n in ctx.obs.nodes), key=layout.key)
    touched = {layout.batch_of[n] for n in in_flight}
    step_nodes(ctx, in_flight)
    if _failed(ctx):
        return on_failure(ctx, _failed(ctx))
    in_flight = [n for n in in_flight if not _node_done(ctx, n)]
    # The window counts what the cluster shows, not only what status recorded: a node whose agent is not
    # available (say its deletion happened just before a crash lost the status write) takes a slot, and is
    # taken first, as the DaemonSet controller replaces an unavailable old pod first.
    down = sorted((n for n in ctx.obs.nodes_without_ready_agent
                   if n not in ctx.nodes and layout.position.get(n, -1) >= begin), key=layout.key)
    lost = lost_agents(ctx)
    hold = None
    room = plan.max_unavailable - len(in_flight) - len(down) - len(lost)
    next_up = _next_unstarted(ctx, layout, begin)
    if (room > 0 or down) and next_up is not None:
        hold = hold_reason(ctx, layout.batch_of[next_up])
        if hold is None:
            down_set = set(down)
            fresh = islice((n for n in ctx.nodes.unstarted(layout, begin)
                            if n in ctx.obs.nodes and n not in down_set), max(room, 0))
            starting = down + list(fresh)
            new_batches = {layout.batch_of[n] for n in starting}
            for index in sorted(b for b in new_batches if not any(n in ctx.nodes for n in plan.batches[b])):
                _batch_started(ctx, index)
            touched |= new_batches
            step_nodes(ctx, starting)
            if _failed(ctx):
                return on_failure(ctx, _failed(ctx))
            in_flight += [n for n in starting if not _node_done(ctx, n)]
    # a batch can only pass in a pass that stepped one of its nodes
    for index in sorted(touched):
        if all(_node_done(ctx, n) for n in plan.batches[index]):
            _batch_passed(ctx, index)
    remaining = in_flight + [n for n in [_next_unstarted(ctx, layout, begin)] if n is not None]
    if not remaining:
        return None
    if not in_flight and hold:
        return ctx.finish(*hold)
    current = layout.batch_of[min(remaining, key=layout.key)]
    ctx.status = ctx.status.model_copy(update={"current_batch": current})
    message = f"batch {current + 1}/{len(plan.batches)}: {len(in_flight)} node(s) in flight"
    if lost:
        message += f"; {lost_message(lost)}"
    return ctx.finish(Phase.rolling, "Progressing", message + (f"; then {hold[2]}" if hold else ""))


def _next_unstarted(ctx: Context, layout: PlanLayout, begin: int) -> str | None:
    """The first node from position `begin` that has not started and is still in the cluster."""
    return next((n for n in ctx.nodes.unstarted(layout, begin) if n in ctx.obs.nodes), None)


def lost_agents(ctx: Context) -> list[str]:
    """Nodes that passed and have no Ready agent since (a new version that crashes later, a node gone
    NotReady): they take slots of maxUnavailable, as in the DaemonSet controller, but are not touched."""
    return sorted(n for n in ctx.obs.nodes_without_ready_agent
                  if (r := ctx.nodes.get(n)) and r.state is NodeState.upgraded)


def _batch_started(ctx: Context, index: int) -> None:
    plan = ctx.status.plan
    canary = " (canary)" if index < plan.canary_batches else ""
    ctx.event("BatchStarted", f"batch {index + 1}/{len(plan.batches)}{canary}: {', '.join(plan.batches[index])}")


def _batch_passed(ctx: Context, index: int) -> None:
    ctx.status = ctx.status.model_copy(update={"last_batch_finished_at": ctx.now})
    ctx.event("BatchSucceeded", f"batch {index + 1}/{len(ctx.status.plan.batches)} passed its health gates")


def hold_before_batch(ctx: Context, index: int) -> Decision | None:
    """Pause, the maintenance window and the batch delay hold a batch that has not started."""
    hold = hold_reason(ctx, index)
    return ctx.finish(*hold) if hold else None


def hold_reason(ctx: Context, index: int) -> tuple[Phase, str, str] | None:
    if ctx.spec.paused:
        return Phase.paused, "Paused", f"paused before batch {index + 1}; set spec.paused: false"
    if ctx.spec.window and not windows.is_open(ctx.spec.window, ctx.obs.now):
        opens = windows.next_opening(ctx.spec.window, ctx.obs.now)
        ctx.wake_in((opens - ctx.obs.now).total_seconds())
        return (Phase.waiting, "OutsideWindow",
                f"batch {index + 1} waits for the maintenance window opening at {iso(opens)}")
    delay = ctx.spec.rollout.batch_delay_seconds
    finished = ctx.status.last_batch_finished_at
    if delay and finished and index > 0 and ctx.spec.rollout.mode is RolloutMode.batches:
        remaining = delay - (ctx.obs.now - parse_time(finished)).total_seconds()
        if remaining > 0:
            ctx.wake_in(remaining)
            return (Phase.rolling if index >= ctx.status.plan.canary_batches else Phase.canary,
                    "BatchDelay", f"batch {index + 1} starts in {remaining:.0f}s")
    return None


def step_nodes(ctx: Context, batch: list[str]) -> None:
    timeout = ctx.spec.rollout.node_timeout_seconds
    revision = ctx.obs.current_revision
    not_ready = [n for n in batch if not _node_done(ctx, n) and not ctx.obs.nodes[n].ready]
    for name in not_ready:
        # Its new agent cannot become Ready there: fail now rather than at the timeout, and touch no other
        # node of the batch in this pass.
        result = ctx.nodes.get(name)
        ctx.node_update(name, NodeState.failed, "the node became NotReady during its batch",
                        started_at=result.started_at if result else ctx.now, finished_at=ctx.now)
        ctx.event("NodeFailed", f"{name}: the node became NotReady during its batch", True)
    if not_ready:
        return
    for name in batch:
        if _node_done(ctx, name):
            continue
        result = ctx.nodes.get(name)
        pod = ctx.obs.pod_on(name)
        if result is None:
            ctx.node_update(name, NodeState.upgrading, "replacing the agent pod", started_at=ctx.now)
            result = ctx.nodes[name]
        if pod is not None and pod.revision != revision:
            ctx.actions.append(act.DeletePod(pod.name, pod.uid, name))
            continue
        started = parse_time(result.started_at)
        elapsed = (ctx.obs.now - started).total_seconds()
        if pod is not None and pod.ready:
            gate(ctx, name)
            continue
        if elapsed > timeout:
            why = f"waiting: {pod.waiting_reason}" if pod else "no agent pod was created"
            ctx.node_update(name, NodeState.failed, f"new agent pod not Ready within {timeout}s ({why})",
                            finished_at=ctx.now)
            ctx.event("NodeFailed", f"{name}: new agent pod not Ready within {timeout}s ({why})", True)
        else:
            ctx.wake_in(timeout - elapsed)


def gate(ctx: Context, name: str) -> None:
    """The agent is Ready on the new revision; with the probe enabled the CNI must also serve a pod."""
    probe_spec = ctx.spec.rollout.probe
    if not probe_spec.enabled:
        pass_node(ctx, name)
        return
    probe = ctx.obs.probes.get(name)
    if probe is None:
        ctx.actions.append(act.CreateProbe(name, probe_spec.image))
        ctx.node_update(name, NodeState.upgrading, "agent Ready; probe pod scheduled")
        return
    if probe.running and probe.has_ip:
        ctx.actions.append(act.DeleteProbe(probe.name))
        pass_node(ctx, name)
        return
    age = (ctx.obs.now - probe.created_at).total_seconds() if probe.created_at else 0
    if probe.failed or age > probe_spec.timeout_seconds:
        ctx.actions.append(act.DeleteProbe(probe.name))
        message = f"probe pod did not get an IP and run within {probe_spec.timeout_seconds}s"
        ctx.node_update(name, NodeState.failed, message, finished_at=ctx.now)
        ctx.event("NodeFailed", f"{name}: {message}", True)
    else:
        ctx.wake_in(probe_spec.timeout_seconds - age)


def pass_node(ctx: Context, name: str) -> None:
    ctx.node_update(name, NodeState.upgraded, upgraded_message(ctx.nodes[name].started_at, ctx.now),
                    finished_at=ctx.now)


def lost_message(lost: list[str]) -> str:
    shown = ", ".join(lost[:5]) + (f" and {len(lost) - 5} more" if len(lost) > 5 else "")
    return f"{len(lost)} upgraded node(s) without a Ready agent take slots of maxUnavailable: {shown}"
