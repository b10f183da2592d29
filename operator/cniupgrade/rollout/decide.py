"""The pure reconcile decision: (spec, last status, what the cluster shows now) -> new status + actions.

Nothing here calls the API. Every decision is derived from the cluster's state (pod revisions, the
DaemonSet's owner annotation) and the plan recorded in status, so a restarted operator decides the same.
This module holds the rollout itself (batches, gates); preparation.py what comes before, rollback.py failures.
"""
from __future__ import annotations

from itertools import islice

from cniupgrade.api.models import (RETRY_ANNOTATION, TERMINAL_PHASES, NodeState, Phase, RolloutMode, UpgradePlanSpec,
                                   UpgradePlanStatus, parse_time, upgraded_message)
from cniupgrade.rollout import actions as act
from cniupgrade.rollout import window as windows
from cniupgrade.rollout.layout import PlanLayout, layout_of
from cniupgrade.rollout.observation import Observation
from cniupgrade.rollout.preparation import Preparation
from cniupgrade.rollout.reconcile_base import RECHECK_SECONDS, Decision, iso, spec_digest  # noqa: F401
from cniupgrade.rollout.rollback import Rollback

ROLLING_PHASES = frozenset({Phase.canary, Phase.rolling, Phase.paused, Phase.rolling_back})
RETRYABLE_PHASES = frozenset({Phase.failed, Phase.rolled_back})


def retry_requested(status: UpgradePlanStatus, retry: str | None) -> bool:
    """A Failed or RolledBack plan whose retry annotation holds a value not acted on yet."""
    return bool(retry) and retry != status.last_handled_retry and status.phase in RETRYABLE_PHASES


def settled(spec: UpgradePlanSpec, status: UpgradePlanStatus, retry: str | None) -> bool:
    """A finished plan that stays finished: its spec is the one it ran for and no retry is asked for."""
    return (status.phase in TERMINAL_PHASES and status.spec_hash == spec_digest(spec)
            and not retry_requested(status, retry))


def needs_preflight(spec: UpgradePlanSpec, status: UpgradePlanStatus, retry: str | None) -> bool:
    """Whether this pass may plan (again), so the plugin's checks must be read: a plan not started yet, or a
    finished one that is not settled (a RolledBack plan has released its DaemonSet)."""
    if status.phase in TERMINAL_PHASES:
        return not settled(spec, status, retry)
    return status.started_at is None


class _Reconcile(Preparation, Rollback):
    def __init__(self, spec: UpgradePlanSpec, status: UpgradePlanStatus, obs: Observation, generation: int,
                 retry: str | None):
        super().__init__(spec, status, obs, generation)
        self.retry = retry

    def run(self) -> Decision:
        digest = spec_digest(self.spec)
        phase = self.status.phase
        if settled(self.spec, self.status, self.retry):
            return self.finish(phase, self._last_reason(), self._last_message())
        if self.obs.out_of_bounds is not None:  # before anything else: the operator does not act there at all
            return self.out_of_bounds(self.obs.out_of_bounds, digest)
        if self.status.started_at and phase not in TERMINAL_PHASES:
            return self.rolling()
        if retry_requested(self.status, self.retry):
            # Then the same path as a changed spec. A plan that still holds its DaemonSet resumes it: nodes that
            # passed keep their results, failed ones start afresh.
            self.event("RetryRequested", f"{RETRY_ANNOTATION}={self.retry}: planning again from the cluster")
            self.status = self.status.model_copy(update={"last_handled_retry": self.retry, "completed_at": None})
        elif phase is Phase.awaiting_approval and self.status.spec_hash == digest:
            return self.awaiting_approval()
        return self.preflight(digest)  # nothing changed yet, or retried: plan (again) from the cluster as it is now

    def rolling(self) -> Decision:
        ds, status = self.obs.daemonset, self.status
        if ds is None:
            return self.finish(Phase.failed, "DaemonSetNotFound", "the DaemonSet was deleted during the rollout")
        if ds.owner != self.obs.plan_key:
            if self.obs.other_owner_alive:
                self.wake_in(RECHECK_SECONDS)
                return self.finish(Phase.waiting, "DaemonSetBusy", f"UpgradePlan {ds.owner} holds the DaemonSet")
            if not self.nodes:  # nothing started: pause and the window hold before the DaemonSet is touched
                hold = self.hold_before_batch(0) or self.pre_pull_gate() or self.control_plane_gate()
                if hold:
                    return hold
            self.actions.append(act.TakeOwnership(self.obs.plan_key, status.original_update_strategy or {},
                                                  status.previous_images, status.target_images))
            self.status = self.status.model_copy(update={"started_at": status.started_at or self.now})
            self.event("DaemonSetPrepared", f"DaemonSet {ds.namespace}/{ds.name} set to OnDelete with the "
                                            f"target images; nodes are replaced batch by batch")
            self.wake_in(0)
            return self.finish(status.phase, "Progressing", "preparing the DaemonSet")
        if status.phase is Phase.rolling_back:
            return self.rolling_back()
        if dict(ds.images) != status.target_images:
            return self.finish(Phase.failed, "DaemonSetChanged",
                               f"DaemonSet {ds.namespace}/{ds.name} images were changed by someone else during the "
                               f"rollout ({dict(ds.images)}); stopped. It stays on OnDelete: restore it or delete "
                               f"this plan")
        if not self.obs.current_revision:
            return self.finish(status.phase, "Progressing", "waiting for the DaemonSet's new revision")
        return self.advance_batches()

    def _node_done(self, name: str) -> bool:
        result = self.nodes.get(name)
        return name not in self.obs.nodes or (result is not None and result.state is NodeState.upgraded)

    def collect_probes(self, keep: set[str]) -> None:
        """A probe pod only lives while its node waits for it; any other is removed (e.g. left by a crash)."""
        for node, probe in self.obs.probes.items():
            if node not in keep:
                self.actions.append(act.DeleteProbe(probe.name))

    def _failed(self) -> list[str]:
        return self.nodes.failed()

    def advance_batches(self) -> Decision:
        plan = self.status.plan
        if self.obs.probes:
            self.collect_probes({n for n in self.nodes.unfinished if self.nodes[n].state is NodeState.upgrading})
        if self.obs.prepull:  # left over from the pre-pull (say the operator stopped right after it)
            self.actions.append(act.EndPrePull())
        if self._failed():
            return self.on_failure(self._failed())
        # The canary is always lock-step; after it, Window mode slides (advance_window), Batches mode does not.
        lock_step = plan.canary_batches if self.spec.rollout.mode is RolloutMode.window else len(plan.batches)
        for index, batch in enumerate(plan.batches[:lock_step]):
            if all(self._node_done(n) for n in batch):
                continue
            phase = Phase.canary if index < plan.canary_batches else Phase.rolling
            if not any(n in self.nodes for n in batch):
                hold = self.hold_before_batch(index)
                if hold:
                    return hold
                lost = self.lost_agents()
                if len(lost) + len(batch) > plan.max_unavailable:
                    return self.finish(phase, "AgentsNotReady",
                                       f"batch {index + 1}/{len(plan.batches)} waits: {lost_message(lost)}")
                self._batch_started(index)
            self.status = self.status.model_copy(update={"current_batch": index})
            self.step_nodes(batch)
            if self._failed():
                return self.on_failure(self._failed())
            if all(self._node_done(n) for n in batch):
                self._batch_passed(index)
                self.wake_in(0)  # the next batch starts on the next pass, decided afresh
            return self.finish(phase, "Progressing", f"batch {index + 1}/{len(plan.batches)}")
        if lock_step < len(plan.batches):
            sliding = self.advance_window(lock_step)
            if sliding:
                return sliding
        self.actions.append(act.ReleaseDaemonSet(self.status.original_update_strategy or {}))
        total = sum(len(b) for b in plan.batches)
        self.event("UpgradeSucceeded", f"all {total} node(s) upgraded; update strategy restored")
        follow_ups = [c for c in self.status.checks if c.after_upgrade]
        for check in follow_ups:
            self.event("FollowUp", f"{check.id}: {check.after_upgrade}", warning=True)
        return self.finish(Phase.succeeded, "Succeeded", f"upgraded {total} node(s) to {self.spec.target_version}"
                           + (f"; {len(follow_ups)} follow-up(s) to do: see status.checks[].afterUpgrade"
                              if follow_ups else ""))

    def advance_window(self, first: int) -> Decision | None:
        """At most maxUnavailable nodes in flight; the next node in plan order starts as soon as one passes.
        Returns None once every node from batch `first` on is done. A pass looks at the nodes in flight and the
        next ones only: a 1000-node plan is decided many times a second."""
        plan, layout = self.status.plan, layout_of(self.status.plan)
        begin = layout.batch_start[first]
        in_flight = sorted((n for n in self.nodes.unfinished
                            if layout.position.get(n, -1) >= begin and n in self.obs.nodes), key=layout.key)
        touched = {layout.batch_of[n] for n in in_flight}
        self.step_nodes(in_flight)
        if self._failed():
            return self.on_failure(self._failed())
        in_flight = [n for n in in_flight if not self._node_done(n)]
        # The window counts what the cluster shows, not only what status recorded: a node whose agent is not
        # available (say its deletion happened just before a crash lost the status write) takes a slot, and is
        # taken first, as the DaemonSet controller replaces an unavailable old pod first.
        down = sorted((n for n in self.obs.nodes_without_ready_agent
                       if n not in self.nodes and layout.position.get(n, -1) >= begin), key=layout.key)
        lost = self.lost_agents()
        hold = None
        room = plan.max_unavailable - len(in_flight) - len(down) - len(lost)
        next_up = self._next_unstarted(layout, begin)
        if (room > 0 or down) and next_up is not None:
            hold = self.hold_reason(layout.batch_of[next_up])
            if hold is None:
                down_set = set(down)
                fresh = islice((n for n in self.nodes.unstarted(layout, begin)
                                if n in self.obs.nodes and n not in down_set), max(room, 0))
                starting = down + list(fresh)
                new_batches = {layout.batch_of[n] for n in starting}
                for index in sorted(b for b in new_batches if not any(n in self.nodes for n in plan.batches[b])):
                    self._batch_started(index)
                touched |= new_batches
                self.step_nodes(starting)
                if self._failed():
                    return self.on_failure(self._failed())
                in_flight += [n for n in starting if not self._node_done(n)]
        # a batch can only pass in a pass that stepped one of its nodes
        for index in sorted(touched):
            if all(self._node_done(n) for n in plan.batches[index]):
                self._batch_passed(index)
        remaining = in_flight + [n for n in [self._next_unstarted(layout, begin)] if n is not None]
        if not remaining:
            return None
        if not in_flight and hold:
            return self.finish(*hold)
        current = layout.batch_of[min(remaining, key=layout.key)]
        self.status = self.status.model_copy(update={"current_batch": current})
        message = f"batch {current + 1}/{len(plan.batches)}: {len(in_flight)} node(s) in flight"
        if lost:
            message += f"; {lost_message(lost)}"
        return self.finish(Phase.rolling, "Progressing", message + (f"; then {hold[2]}" if hold else ""))

    def _next_unstarted(self, layout: PlanLayout, begin: int) -> str | None:
        """The first node from position `begin` that has not started and is still in the cluster."""
        return next((n for n in self.nodes.unstarted(layout, begin) if n in self.obs.nodes), None)

    def lost_agents(self) -> list[str]:
        """Nodes that passed and have no Ready agent since (a new version that crashes later, a node gone
        NotReady): they take slots of maxUnavailable, as in the DaemonSet controller, but are not touched."""
        return sorted(n for n in self.obs.nodes_without_ready_agent
                      if (r := self.nodes.get(n)) and r.state is NodeState.upgraded)

    def _batch_started(self, index: int) -> None:
        plan = self.status.plan
        canary = " (canary)" if index < plan.canary_batches else ""
        self.event("BatchStarted", f"batch {index + 1}/{len(plan.batches)}{canary}: {', '.join(plan.batches[index])}")

    def _batch_passed(self, index: int) -> None:
        self.status = self.status.model_copy(update={"last_batch_finished_at": self.now})
        self.event("BatchSucceeded", f"batch {index + 1}/{len(self.status.plan.batches)} passed its health gates")

    def hold_before_batch(self, index: int) -> Decision | None:
        """Pause, the maintenance window and the batch delay hold a batch that has not started."""
        hold = self.hold_reason(index)
        return self.finish(*hold) if hold else None

    def hold_reason(self, index: int) -> tuple[Phase, str, str] | None:
        if self.spec.paused:
            return Phase.paused, "Paused", f"paused before batch {index + 1}; set spec.paused: false"
        if self.spec.window and not windows.is_open(self.spec.window, self.obs.now):
            opens = windows.next_opening(self.spec.window, self.obs.now)
            self.wake_in((opens - self.obs.now).total_seconds())
            return (Phase.waiting, "OutsideWindow",
                    f"batch {index + 1} waits for the maintenance window opening at {iso(opens)}")
        delay = self.spec.rollout.batch_delay_seconds
        finished = self.status.last_batch_finished_at
        if delay and finished and index > 0 and self.spec.rollout.mode is RolloutMode.batches:
            remaining = delay - (self.obs.now - parse_time(finished)).total_seconds()
            if remaining > 0:
                self.wake_in(remaining)
                return (Phase.rolling if index >= self.status.plan.canary_batches else Phase.canary,
                        "BatchDelay", f"batch {index + 1} starts in {remaining:.0f}s")
        return None

    def step_nodes(self, batch: list[str]) -> None:
        timeout = self.spec.rollout.node_timeout_seconds
        revision = self.obs.current_revision
        not_ready = [n for n in batch if not self._node_done(n) and not self.obs.nodes[n].ready]
        for name in not_ready:
            # Its new agent cannot become Ready there: fail now rather than at the timeout, and touch no other
            # node of the batch in this pass.
            result = self.nodes.get(name)
            self.node_update(name, NodeState.failed, "the node became NotReady during its batch",
                             started_at=result.started_at if result else self.now, finished_at=self.now)
            self.event("NodeFailed", f"{name}: the node became NotReady during its batch", True)
        if not_ready:
            return
        for name in batch:
            if self._node_done(name):
                continue
            result = self.nodes.get(name)
            pod = self.obs.pod_on(name)
            if result is None:
                self.node_update(name, NodeState.upgrading, "replacing the agent pod", started_at=self.now)
                result = self.nodes[name]
            if pod is not None and pod.revision != revision:
                self.actions.append(act.DeletePod(pod.name, pod.uid, name))
                continue
            started = parse_time(result.started_at)
            elapsed = (self.obs.now - started).total_seconds()
            if pod is not None and pod.ready:
                self.gate(name)
                continue
            if elapsed > timeout:
                why = f"waiting: {pod.waiting_reason}" if pod else "no agent pod was created"
                self.node_update(name, NodeState.failed, f"new agent pod not Ready within {timeout}s ({why})",
                                 finished_at=self.now)
                self.event("NodeFailed", f"{name}: new agent pod not Ready within {timeout}s ({why})", True)
            else:
                self.wake_in(timeout - elapsed)

    def gate(self, name: str) -> None:
        """The agent is Ready on the new revision; with the probe enabled the CNI must also serve a pod."""
        probe_spec = self.spec.rollout.probe
        if not probe_spec.enabled:
            self.pass_node(name)
            return
        probe = self.obs.probes.get(name)
        if probe is None:
            self.actions.append(act.CreateProbe(name, probe_spec.image))
            self.node_update(name, NodeState.upgrading, "agent Ready; probe pod scheduled")
            return
        if probe.running and probe.has_ip:
            self.actions.append(act.DeleteProbe(probe.name))
            self.pass_node(name)
            return
        age = (self.obs.now - probe.created_at).total_seconds() if probe.created_at else 0
        if probe.failed or age > probe_spec.timeout_seconds:
            self.actions.append(act.DeleteProbe(probe.name))
            message = f"probe pod did not get an IP and run within {probe_spec.timeout_seconds}s"
            self.node_update(name, NodeState.failed, message, finished_at=self.now)
            self.event("NodeFailed", f"{name}: {message}", True)
        else:
            self.wake_in(probe_spec.timeout_seconds - age)

    def pass_node(self, name: str) -> None:
        self.node_update(name, NodeState.upgraded, upgraded_message(self.nodes[name].started_at, self.now),
                         finished_at=self.now)


def lost_message(lost: list[str]) -> str:
    shown = ", ".join(lost[:5]) + (f" and {len(lost) - 5} more" if len(lost) > 5 else "")
    return f"{len(lost)} upgraded node(s) without a Ready agent take slots of maxUnavailable: {shown}"


def decide(spec: UpgradePlanSpec, status: UpgradePlanStatus, obs: Observation, generation: int,
           retry: str | None = None) -> Decision:
    """`retry`: the plan's cniupgrade.io/retry annotation."""
    return _Reconcile(spec, status, obs, generation, retry).run()
