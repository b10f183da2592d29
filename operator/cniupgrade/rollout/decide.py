"""The pure reconcile decision: (spec, last status, what the cluster shows now) -> new status + actions.

Nothing here calls the API. Every decision is derived from the cluster's state (pod revisions, the
DaemonSet's owner annotation) and the plan recorded in status, so a restarted operator decides the same.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from cniupgrade.api import conditions as cond
from cniupgrade.api.models import (TERMINAL_PHASES, CheckResult, ComputedPlan, Counts, NodeResult, NodeState,
                                   Phase, UpgradePlanSpec, UpgradePlanStatus)
from cniupgrade.plugins.profiles import profile_for
from cniupgrade.preflight.framework import MAX_NAMED_OBJECTS, Verdict
from cniupgrade.rollout import actions as act
from cniupgrade.rollout import window as windows
from cniupgrade.rollout.observation import Observation, images_digest
from cniupgrade.rollout.planner import compute_plan

ROLLING_PHASES = frozenset({Phase.canary, Phase.rolling, Phase.paused, Phase.rolling_back})
RECHECK_SECONDS = 30.0
PREFLIGHT_RECHECK_SECONDS = 60.0


@dataclass
class Decision:
    status: UpgradePlanStatus
    actions: list[act.Action] = field(default_factory=list)
    events: list[act.Event] = field(default_factory=list)
    requeue_after: float | None = None  # seconds until a time-based condition (timeout, window, delay) is due


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def spec_digest(spec: UpgradePlanSpec) -> str:
    """What shapes the plan; approval, pause and the window do not re-plan."""
    shaping = spec.model_dump(mode="json", exclude={"approved", "paused", "window"})
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:16]


class _Reconcile:
    """One decision. Mutates its working copies only; `decide()` returns the result."""

    def __init__(self, spec: UpgradePlanSpec, status: UpgradePlanStatus, obs: Observation, generation: int):
        self.spec, self.obs, self.generation = spec, obs, generation
        self.status = status
        self.initial_phase = status.phase
        self.now = iso(obs.now)
        self.actions: list[act.Action] = []
        self.events: list[act.Event] = []
        self.requeue: float | None = None
        self.nodes: dict[str, NodeResult] = {n.name: n for n in status.nodes}

    # ---- helpers -----------------------------------------------------------------------------------
    def event(self, reason: str, message: str, warning: bool = False) -> None:
        self.events.append(act.Event("Warning" if warning else "Normal", reason, message))

    def wake_in(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.requeue = seconds if self.requeue is None else min(self.requeue, seconds)

    def node_update(self, name: str, state: NodeState, message: str = "", **times: str) -> None:
        old = self.nodes.get(name)
        if old and old.state is state and old.message == message:
            return
        fields = {"started_at": old.started_at if old else None, "finished_at": old.finished_at if old else None}
        fields.update(times)
        self.nodes[name] = NodeResult(name=name, state=state, message=message, **fields)
        self.status = self.status.model_copy(update={"last_progress_at": self.now})

    def finish(self, phase: Phase, reason: str, message: str, blocked: bool = False) -> Decision:
        plan = self.status.plan
        order = [n for batch in plan.batches for n in batch] if plan else []
        position = {name: i for i, name in enumerate(order)}
        results = sorted(self.nodes.values(), key=lambda r: position.get(r.name, len(order)))
        counts = Counts(total=len(order),
                        upgraded=sum(r.state is NodeState.upgraded for r in results),
                        failed=sum(r.state is NodeState.failed for r in results))
        counts = counts.model_copy(update={"pending": counts.total - counts.upgraded - counts.failed
                                           - sum(r.state is NodeState.rolled_back for r in results)})
        conditions = cond.lifecycle_conditions(self.status.conditions, phase, reason, message, self.now,
                                               self.generation, blocked)
        degraded = counts.failed > 0 or any(r.state is NodeState.rolled_back for r in results)
        conditions = cond.set_condition(conditions, cond.DEGRADED, degraded,
                                        "NodesFailed" if degraded else "AllNodesHealthy",
                                        f"{counts.failed} node(s) failed their health gate" if degraded else "",
                                        self.now, self.generation)
        if phase in TERMINAL_PHASES and not self.status.completed_at:
            self.status = self.status.model_copy(update={"completed_at": self.now})
        status = self.status.model_copy(update={
            "observed_generation": self.generation, "phase": phase, "conditions": conditions,
            "nodes": results, "counts": counts, "progress": f"{counts.upgraded}/{counts.total}"})
        if phase is not self.initial_phase:
            self.event(f"Phase{phase.value}", message or phase.value, warning=phase in {Phase.failed,
                                                                                       Phase.rolled_back})
        return Decision(status, self.actions, self.events, self.requeue)

    # ---- entry -------------------------------------------------------------------------------------
    def run(self) -> Decision:
        digest = spec_digest(self.spec)
        phase = self.status.phase
        if self.status.started_at and phase not in TERMINAL_PHASES:
            return self.rolling()
        if phase in TERMINAL_PHASES and self.status.spec_hash == digest:
            return self.finish(phase, self._last_reason(), self._last_message())
        if phase is Phase.awaiting_approval and self.status.spec_hash == digest:
            return self.awaiting_approval()
        return self.preflight(digest)  # nothing changed yet: plan (again) from the cluster as it is now

    def _last_reason(self) -> str:
        ready = next((c for c in self.status.conditions if c.type == cond.READY), None)
        return ready.reason if ready else "Unknown"

    def _last_message(self) -> str:
        ready = next((c for c in self.status.conditions if c.type == cond.READY), None)
        return ready.message if ready else ""

    # ---- preflight ---------------------------------------------------------------------------------
    def preflight(self, digest: str) -> Decision:
        ds = self.obs.daemonset
        ds_name = self.spec.daemon_set.name if self.spec.daemon_set else "?"
        if ds is None:
            self.status = self.status.model_copy(update={"spec_hash": digest})
            self.status = self.status.model_copy(update={"conditions": cond.set_condition(
                self.status.conditions, cond.PREFLIGHT_PASSED, False, "DaemonSetNotFound",
                f"DaemonSet {self.spec.namespace}/{ds_name} not found", self.now, self.generation)})
            return self.finish(Phase.failed, "DaemonSetNotFound",
                               f"DaemonSet {self.spec.namespace}/{ds_name} not found")
        if self.obs.other_owner_alive and ds.owner != self.obs.plan_key:
            self.wake_in(RECHECK_SECONDS)
            return self.finish(Phase.waiting, "DaemonSetBusy",
                               f"UpgradePlan {ds.owner} is rolling DaemonSet {ds.namespace}/{ds.name}; "
                               f"this plan starts when it is done")
        try:
            if self.spec.window:
                windows.is_open(self.spec.window, self.obs.now)
        except windows.InvalidWindow as exc:
            return self.finish(Phase.failed, "InvalidWindow", str(exc))

        ours = ds.owner == self.obs.plan_key  # resuming after a restart: the DaemonSet remembers the past
        previous = dict(ds.recorded_previous_images or {}) if ours else dict(ds.images)
        original = dict(ds.recorded_original_strategy or {}) if ours else dict(ds.update_strategy)
        profile = profile_for(self.spec)
        target = profile.target_images(self.spec, previous)
        plan: ComputedPlan = compute_plan(self.obs.nodes.values(), self.obs.nodes_with_agent(), self.spec.rollout)
        nodes_total = sum(len(b) for b in plan.batches)
        replanned = plan != self.status.plan
        checks = check_results(self.obs.preflight)
        blocking = self._blocking_checks()
        previously_blocking = {c.id for c in self.status.checks if c.result == "Failed"}
        summary = (f"{nodes_total} node(s) in {len(plan.batches)} batch(es), {len(plan.excluded)} excluded"
                   + (f"; {len(checks)} check(s) run" if checks else ""))
        self.status = UpgradePlanStatus(
            conditions=cond.set_condition(
                self.status.conditions, cond.PREFLIGHT_PASSED, not blocking,
                "ChecksFailed" if blocking else "ChecksPassed",
                f"blocked by {', '.join(blocking)} (see status.checks)" if blocking else summary,
                self.now, self.generation),
            from_version=self.obs.installed_version or profile.installed_version(previous),
            target_images=target, previous_images=previous, checks=checks,
            original_update_strategy=original, plan=plan, spec_hash=digest,
            started_at=(self.status.started_at or self.now) if ours else None)
        if blocking and not ours:
            self.nodes = {}
            if set(blocking) != previously_blocking:
                self.event("PreflightBlocked", f"blocked by {', '.join(blocking)}; see status.checks", warning=True)
            self.wake_in(PREFLIGHT_RECHECK_SECONDS)  # fixing the cluster unblocks the plan
            return self.finish(Phase.preflight, "PreflightBlocked",
                               f"pre-flight checks failed: {', '.join(blocking)}; see status.checks", blocked=True)
        self.nodes = {}
        if replanned:
            self.event("PlanComputed", f"{nodes_total} node(s) in {len(plan.batches)} batch(es) of at most "
                                       f"{plan.max_unavailable}; canary: {', '.join(plan.batches[0]) if plan.canary_batches else 'none'}")
        if replanned and target == previous and not ours:
            self.event("AlreadyAtTarget", f"DaemonSet {ds.namespace}/{ds.name} already runs the target images")
        if self.spec.require_approval and not self.spec.approved:
            return self.finish(Phase.awaiting_approval, "AwaitingApproval",
                               "review status.plan and status.checks, and set spec.approved: true to start")
        return self.migrate_then_start()

    def _blocking_checks(self) -> list[str]:
        """Failed checks that stop the plan; a fix the operator cannot carry out yet blocks too."""
        verdict = self.obs.preflight
        if verdict is None:
            return []
        blocking = verdict.blocking(self.spec.preflight.warnings_block)
        if not self.spec.migrations.enabled:
            blocking += verdict.migrations()
        return [f.check_id for f in verdict.findings if f in blocking]

    def migrate_then_start(self) -> Decision:
        """Approved (or no approval asked): the notes' migrations first, then the rollout."""
        verdict = self.obs.preflight
        pending = list(dict.fromkeys(f.migration for f in verdict.migrations())) if verdict else []
        if pending:
            self.actions.extend(act.RunMigration(m) for m in pending)
            self.event("Migrating", f"applying {', '.join(pending)}")
            self.wake_in(0)  # then the checks run again on the changed cluster
            return self.finish(Phase.migrating, "Migrating", f"applying {', '.join(pending)}")
        return self.start_rollout()

    def awaiting_approval(self) -> Decision:
        if self.spec.approved:
            self.event("Approved", "plan approved; starting the rollout")
            return self.migrate_then_start()
        return self.finish(Phase.awaiting_approval, "AwaitingApproval",
                           "review status.plan and status.checks, and set spec.approved: true to start")

    def start_rollout(self) -> Decision:
        first = Phase.canary if self.status.plan and self.status.plan.canary_batches else Phase.rolling
        self.status = self.status.model_copy(update={"phase": first})
        return self.rolling()

    # ---- rolling -----------------------------------------------------------------------------------
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

    def pre_pull_gate(self) -> Decision | None:
        """Every planned node must hold the target images before any agent pod is touched."""
        if not self.spec.pre_pull.enabled:
            return None
        nodes = [n for batch in self.status.plan.batches for n in batch if n in self.obs.nodes]
        pods = self.obs.prepull
        images = tuple(sorted(set(self.status.target_images.values()) - set(self.status.previous_images.values())))
        if not images:
            return None
        if any(p.digest != images_digest(images) for p in pods.values()):
            self.actions.append(act.EndPrePull())  # pulling other images (the target changed): start again
            self.wake_in(1)
            return self.finish(Phase.pre_pulling, "PrePulling", "replacing the pre-pull for the new target")
        if not pods:
            self.actions.append(act.StartPrePull(images))
            self.event("PrePullStarted", f"pulling {len(images)} image(s) on {len(nodes)} node(s)")
            self.wake_in(self.spec.pre_pull.timeout_seconds)
            return self.finish(Phase.pre_pulling, "PrePulling", f"pulling {', '.join(images)}")
        failed = {n: pods[n].failure for n in nodes if n in pods and pods[n].failure}
        pending = [n for n in nodes if not (n in pods and pods[n].pulled)]
        if not pending:
            self.actions.append(act.EndPrePull())
            self.event("PrePullSucceeded", f"{', '.join(images)} pulled on all {len(nodes)} node(s)")
            self.status = self.status.model_copy(update={"conditions": cond.set_condition(
                self.status.conditions, cond.IMAGES_PULLED, True, "Pulled", f"pulled on {len(nodes)} node(s)",
                self.now, self.generation)})
            return None
        started = min((p.created_at for p in pods.values() if p.created_at), default=self.obs.now)
        waited = (self.obs.now - started).total_seconds()
        if failed or waited > self.spec.pre_pull.timeout_seconds:
            reasons = failed or {n: f"not pulled within {self.spec.pre_pull.timeout_seconds}s" for n in pending}
            message = "; ".join(f"{n}: {why}" for n, why in sorted(reasons.items())[:10])
            previous = next((c for c in self.status.conditions if c.type == cond.IMAGES_PULLED), None)
            self.status = self.status.model_copy(update={"conditions": cond.set_condition(
                self.status.conditions, cond.IMAGES_PULLED, False, "PullFailed", message, self.now, self.generation)})
            if previous is None or previous.message != message:
                self.event("PrePullFailed", f"{len(reasons)} node(s) cannot pull the target images: {message}",
                           warning=True)
            self.wake_in(RECHECK_SECONDS)  # the pre-pull DaemonSet keeps retrying; a fixed registry unblocks
            return self.finish(Phase.pre_pulling, "ImagePullFailed",
                               f"{len(reasons)} node(s) cannot pull the target images ({message}); no agent pod was "
                               f"touched", blocked=True)
        self.wake_in(self.spec.pre_pull.timeout_seconds - waited)
        return self.finish(Phase.pre_pulling, "PrePulling", f"pulled on {len(nodes) - len(pending)}/{len(nodes)} "
                                                            f"node(s)")

    def control_plane_gate(self) -> Decision | None:
        """The plugin's Deployments go first (the vendor's order), each fully rolled out before the agent."""
        profile = profile_for(self.spec)
        for deployment in self.obs.control_plane:
            target = profile.target_images(self.spec, deployment.images)
            if dict(deployment.images) != target:
                self.actions.append(act.SetDeploymentImages(deployment.name, target))
                self.event("ControlPlaneUpdating", f"Deployment {deployment.name}: {', '.join(target.values())}")
                return self.finish(Phase.control_plane, "ControlPlane", f"updating Deployment {deployment.name}")
            if not deployment.rolled_out:
                return self.finish(Phase.control_plane, "ControlPlane",
                                   f"waiting for Deployment {deployment.name} ({deployment.message})")
        return None

    def collect_probes(self, keep: set[str]) -> None:
        """A probe pod only lives while its node waits for it; any other is removed (e.g. left by a crash)."""
        for node, probe in self.obs.probes.items():
            if node not in keep:
                self.actions.append(act.DeleteProbe(probe.name))

    def advance_batches(self) -> Decision:
        plan = self.status.plan
        waiting_for_probe = {n for n, r in self.nodes.items() if r.state is NodeState.upgrading}
        self.collect_probes(waiting_for_probe)
        if self.obs.prepull:  # left over from the pre-pull (say the operator stopped right after it)
            self.actions.append(act.EndPrePull())
        failed = [n for n, r in self.nodes.items() if r.state is NodeState.failed]
        if failed:
            return self.on_failure(failed)
        for index, batch in enumerate(plan.batches):
            if all(self._node_done(n) for n in batch):
                continue
            phase = Phase.canary if index < plan.canary_batches else Phase.rolling
            started = any(n in self.nodes for n in batch)
            if not started:
                hold = self.hold_before_batch(index)
                if hold:
                    return hold
                self.event("BatchStarted", f"batch {index + 1}/{len(plan.batches)}"
                                           f"{' (canary)' if phase is Phase.canary else ''}: {', '.join(batch)}")
            self.status = self.status.model_copy(update={"current_batch": index})
            self.step_batch(batch)
            failed = [n for n, r in self.nodes.items() if r.state is NodeState.failed]
            if failed:
                return self.on_failure(failed)
            if all(self._node_done(n) for n in batch):
                self.status = self.status.model_copy(update={"last_batch_finished_at": self.now})
                self.event("BatchSucceeded", f"batch {index + 1}/{len(plan.batches)} passed its health gates")
                self.wake_in(0)  # the next batch starts on the next pass, decided afresh
            return self.finish(phase, "Progressing", f"batch {index + 1}/{len(plan.batches)}")
        self.actions.append(act.ReleaseDaemonSet(self.status.original_update_strategy or {}))
        self.event("UpgradeSucceeded", f"all {sum(len(b) for b in plan.batches)} node(s) upgraded; "
                                       f"update strategy restored")
        return self.finish(Phase.succeeded, "Succeeded",
                           f"upgraded {sum(len(b) for b in plan.batches)} node(s) to {self.spec.target_version}")

    def hold_before_batch(self, index: int) -> Decision | None:
        """Pause, the maintenance window and the batch delay hold a batch that has not started."""
        if self.spec.paused:
            return self.finish(Phase.paused, "Paused", f"paused before batch {index + 1}; set spec.paused: false")
        if self.spec.window and not windows.is_open(self.spec.window, self.obs.now):
            opens = windows.next_opening(self.spec.window, self.obs.now)
            self.wake_in((opens - self.obs.now).total_seconds())
            return self.finish(Phase.waiting, "OutsideWindow",
                               f"batch {index + 1} waits for the maintenance window opening at {iso(opens)}")
        delay = self.spec.rollout.batch_delay_seconds
        finished = self.status.last_batch_finished_at
        if delay and finished and index > 0:
            remaining = delay - (self.obs.now - dt.datetime.fromisoformat(finished.replace("Z", "+00:00"))
                                 ).total_seconds()
            if remaining > 0:
                self.wake_in(remaining)
                return self.finish(Phase.rolling if index >= self.status.plan.canary_batches else Phase.canary,
                                   "BatchDelay", f"batch {index + 1} starts in {remaining:.0f}s")
        return None

    def step_batch(self, batch: list[str]) -> None:
        timeout = self.spec.rollout.node_timeout_seconds
        revision = self.obs.current_revision
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
            started = dt.datetime.fromisoformat(result.started_at.replace("Z", "+00:00"))
            elapsed = (self.obs.now - started).total_seconds()
            if pod is not None and pod.ready:
                self.gate(name, started)
                continue
            if elapsed > timeout:
                why = f"waiting: {pod.waiting_reason}" if pod else "no agent pod was created"
                self.node_update(name, NodeState.failed, f"new agent pod not Ready within {timeout}s ({why})",
                                 finished_at=self.now)
                self.event("NodeFailed", f"{name}: new agent pod not Ready within {timeout}s ({why})", True)
            else:
                self.wake_in(timeout - elapsed)

    def gate(self, name: str, started: dt.datetime) -> None:
        """The agent is Ready on the new revision; with the probe enabled the CNI must also serve a pod."""
        probe_spec = self.spec.rollout.probe
        if not probe_spec.enabled:
            self.pass_node(name, started)
            return
        probe = self.obs.probes.get(name)
        if probe is None:
            self.actions.append(act.CreateProbe(name, probe_spec.image))
            self.node_update(name, NodeState.upgrading, "agent Ready; probe pod scheduled")
            return
        if probe.running and probe.has_ip:
            self.actions.append(act.DeleteProbe(probe.name))
            self.pass_node(name, started)
            return
        age = (self.obs.now - probe.created_at).total_seconds() if probe.created_at else 0
        if probe.failed or age > probe_spec.timeout_seconds:
            self.actions.append(act.DeleteProbe(probe.name))
            message = f"probe pod did not get an IP and run within {probe_spec.timeout_seconds}s"
            self.node_update(name, NodeState.failed, message, finished_at=self.now)
            self.event("NodeFailed", f"{name}: {message}", True)
        else:
            self.wake_in(probe_spec.timeout_seconds - age)

    def pass_node(self, name: str, started: dt.datetime) -> None:
        took = (self.obs.now - started).total_seconds()
        self.node_update(name, NodeState.upgraded, f"upgraded in {took:.0f}s", finished_at=self.now)

    # ---- failure and rollback ---------------------------------------------------------------------
    def on_failure(self, failed: list[str]) -> Decision:
        names = ", ".join(sorted(failed))
        if not self.spec.rollback_on_failure:
            return self.finish(Phase.failed, "NodeHealthGateFailed",
                               f"health gate failed on {names}; stopped. The DaemonSet stays on OnDelete so no "
                               f"other node takes the new version: fix and re-apply the plan, or delete it to "
                               f"restore the original update strategy")
        self.status = self.status.model_copy(update={"phase": Phase.rolling_back})
        self.event("RollbackStarted", f"putting {names} back on the previous images", warning=True)
        self.actions.append(act.SetImages(self.status.previous_images))
        self.wake_in(0)
        return self.finish(Phase.rolling_back, "RollingBack", f"rolling back {names}")

    def rolling_back(self) -> Decision:
        ds = self.obs.daemonset
        if dict(ds.images) != self.status.previous_images:
            self.actions.append(act.SetImages(self.status.previous_images))
            self.wake_in(0)
            return self.finish(Phase.rolling_back, "RollingBack", "restoring the previous images")
        if not self.obs.current_revision:
            return self.finish(Phase.rolling_back, "RollingBack", "waiting for the DaemonSet's revision")
        pending = []
        for name, result in list(self.nodes.items()):
            if result.state is not NodeState.failed or name not in self.obs.nodes:
                continue
            pod = self.obs.pod_on(name)
            if pod is not None and pod.revision != self.obs.current_revision:
                self.actions.append(act.DeletePod(pod.name, pod.uid, name))
                pending.append(name)
            elif pod is not None and pod.ready:
                self.node_update(name, NodeState.rolled_back, f"back on the previous images ({result.message})",
                                 finished_at=self.now)
            else:
                pending.append(name)
        if pending:
            self.wake_in(RECHECK_SECONDS)
            return self.finish(Phase.rolling_back, "RollingBack", f"rolling back {', '.join(sorted(pending))}")
        self.actions.append(act.ReleaseDaemonSet(self.status.original_update_strategy or {}))
        rolled = sorted(n for n, r in self.nodes.items() if r.state is NodeState.rolled_back)
        return self.finish(Phase.rolled_back, "RolledBack",
                           f"{', '.join(rolled)} rolled back to the previous images after failing the health gate; "
                           f"original update strategy restored")


def check_results(verdict: Verdict | None) -> list[CheckResult]:
    if verdict is None:
        return []
    results = [CheckResult(id=f.check_id, severity=f.severity.value, result="Passed" if f.passed else "Failed",
                           message=f.message, remediation="" if f.passed else f.remediation,
                           objects=list(f.objects[:MAX_NAMED_OBJECTS]),
                           migration="" if f.passed else (f.migration or ""))
               for f in verdict.findings]
    return results + [CheckResult(id=i, severity="Info", result="Skipped", message="skipped by spec.preflight.skip")
                      for i in verdict.skipped]


def decide(spec: UpgradePlanSpec, status: UpgradePlanStatus, obs: Observation, generation: int) -> Decision:
    return _Reconcile(spec, status, obs, generation).run()
