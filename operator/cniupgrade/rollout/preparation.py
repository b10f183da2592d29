"""Everything before the agent DaemonSet is taken: checks, approval, migrations, pre-pull, control plane."""
from __future__ import annotations

from cniupgrade.api import conditions as cond
from cniupgrade.api.models import CheckResult, ComputedPlan, NodeResult, NodeState, Phase, UpgradePlanStatus
from cniupgrade.preflight.framework import MAX_NAMED_OBJECTS, Finding, Verdict
from cniupgrade.rollout import actions as act
from cniupgrade.rollout import window as windows
from cniupgrade.rollout.layout import layout_of
from cniupgrade.rollout.node_results import NodeResults
from cniupgrade.rollout.observation import images_digest
from cniupgrade.rollout.planner import compute_plan
from cniupgrade.rollout.reconcile_base import RECHECK_SECONDS, Decision, ReconcileBase
from cniupgrade.seams.mechanism import mechanism_for
from cniupgrade.seams.plugin import plugin_for

PREFLIGHT_RECHECK_SECONDS = 60.0


class Preparation(ReconcileBase):
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
        plugin = plugin_for(self.spec)
        target = mechanism_for(self.spec).target_images(plugin, self.spec, previous)
        plan: ComputedPlan = compute_plan(self.obs.nodes.values(), self.obs.agents.placed, self.spec.rollout,
                                         self.obs.excluded_nodes)
        nodes_total = sum(len(b) for b in plan.batches)
        replanned = plan != self.status.plan
        checks = check_results(self.obs.preflight)
        blocking = self._blocking_checks()
        previously_failed = {c.id for c in self.status.checks if c.result == "Failed"}
        summary = (f"{nodes_total} node(s) in {len(plan.batches)} batch(es), {len(plan.excluded)} excluded"
                   + (f"; {len(checks)} check(s) run" if checks else ""))
        self.status = UpgradePlanStatus(
            conditions=cond.set_condition(
                self.status.conditions, cond.PREFLIGHT_PASSED, not blocking,
                "ChecksFailed" if blocking else "ChecksPassed",
                f"blocked by {', '.join(blocking)} (see status.checks)" if blocking else summary,
                self.now, self.generation),
            from_version=self.obs.installed_version or plugin.installed_version(previous),
            target_images=target, previous_images=previous, checks=checks,
            original_update_strategy=original, plan=plan, spec_hash=digest,
            last_handled_retry=self.status.last_handled_retry, approved_spec_hash=self.status.approved_spec_hash,
            started_at=(self.status.started_at or self.now) if ours else None)
        self._report_new_failures(checks, previously_failed)
        if blocking and not ours:
            return self._blocked(blocking, previously_failed)
        self.nodes = NodeResults(self._passed_nodes(plan, target) if ours else ())
        if replanned:
            self.event("PlanComputed", f"{nodes_total} node(s) in {len(plan.batches)} batch(es) of at most "
                                       f"{plan.max_unavailable}; canary: {', '.join(plan.batches[0]) if plan.canary_batches else 'none'}")
        if replanned and target == previous and not ours:
            self.event("AlreadyAtTarget", f"DaemonSet {ds.namespace}/{ds.name} already runs the target images")
        if self.approval_pending(digest):
            return self.wait_for_approval()
        return self.migrate_then_start()

    def out_of_bounds(self, boundary: Finding, digest: str) -> Decision:
        """The plan names a namespace it may not manage: blocked before anything there is read or changed. It
        plans again once the spec is fixed or its namespace is trusted."""
        previously_failed = {c.id for c in self.status.checks if c.result == "Failed"}
        checks = check_results(Verdict([boundary]))
        self.status = UpgradePlanStatus(
            conditions=cond.set_condition(self.status.conditions, cond.PREFLIGHT_PASSED, False, "ChecksFailed",
                                          f"blocked by {boundary.check_id} (see status.checks)", self.now,
                                          self.generation),
            checks=checks, spec_hash=digest, last_handled_retry=self.status.last_handled_retry,
            approved_spec_hash=self.status.approved_spec_hash)
        self._report_new_failures(checks, previously_failed)
        return self._blocked([boundary.check_id], previously_failed)

    def _report_new_failures(self, checks: list[CheckResult], previously_failed: set[str]) -> None:
        for check in checks:  # each finding once, when it first fails
            if check.result == "Failed" and check.id not in previously_failed:
                objects = f" [{', '.join(check.objects)}]" if check.objects else ""
                self.event("CheckFailed", f"{check.id} ({check.severity}): {check.message}{objects}",
                           warning=check.severity != "Info")

    def _blocked(self, blocking: list[str], previously_failed: set[str]) -> Decision:
        self.nodes = NodeResults()
        if not set(blocking) <= previously_failed:
            self.event("PreflightBlocked", f"blocked by {', '.join(blocking)}; see status.checks", warning=True)
        self.wake_in(PREFLIGHT_RECHECK_SECONDS)  # fixing the cluster unblocks the plan
        return self.finish(Phase.preflight, "PreflightBlocked",
                           f"pre-flight checks failed: {', '.join(blocking)}; see status.checks", blocked=True)

    def approval_pending(self, digest: str) -> bool:
        """Whether requireApproval still holds the plan. spec.approved counts for the spec it was given for: this
        records that spec's digest in status, and forgets it while approved is false (the next true approves)."""
        if not self.spec.require_approval:
            return False
        if not self.spec.approved:
            self.status = self.status.model_copy(update={"approved_spec_hash": None})
            return True
        if self.status.approved_spec_hash not in (None, digest):
            return True
        self.status = self.status.model_copy(update={"approved_spec_hash": digest})
        return False

    def wait_for_approval(self) -> Decision:
        if self.spec.approved:  # left true from an earlier spec
            return self.finish(Phase.awaiting_approval, "ApprovalOutdated",
                               "the spec changed after it was approved: set spec.approved: false, review status.plan "
                               "and status.checks, then set it true to start")
        return self.finish(Phase.awaiting_approval, "AwaitingApproval",
                           "review status.plan and status.checks, and set spec.approved: true to start")

    def _passed_nodes(self, plan: ComputedPlan, target: dict[str, str]) -> list[NodeResult]:
        """Resuming a DaemonSet this plan holds, for the same images (a retry, a longer timeout): the nodes that
        passed their gate keep their results and times instead of passing again."""
        if self.initial.target_images != target:
            return []
        planned = layout_of(plan).position
        return [r for r in self.initial.nodes if r.state is NodeState.upgraded and r.name in planned]

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
        digest = self.status.spec_hash or ""
        if not self.approval_pending(digest):
            self.event("Approved", "plan approved; starting the rollout")
            return self.migrate_then_start()
        return self.wait_for_approval()

    def start_rollout(self) -> Decision:
        first = Phase.canary if self.status.plan and self.status.plan.canary_batches else Phase.rolling
        self.status = self.status.model_copy(update={"phase": first})
        return self.rolling()

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
        plugin, mechanism = plugin_for(self.spec), mechanism_for(self.spec)
        for deployment in self.obs.control_plane:
            target = mechanism.target_images(plugin, self.spec, deployment.images)
            if dict(deployment.images) != target:
                self.actions.append(act.SetDeploymentImages(deployment.name, target))
                self.event("ControlPlaneUpdating", f"Deployment {deployment.name}: {', '.join(target.values())}")
                return self.finish(Phase.control_plane, "ControlPlane", f"updating Deployment {deployment.name}")
            if not deployment.rolled_out:
                return self.finish(Phase.control_plane, "ControlPlane",
                                   f"waiting for Deployment {deployment.name} ({deployment.message})")
        return None


def check_results(verdict: Verdict | None) -> list[CheckResult]:
    if verdict is None:
        return []
    results = [CheckResult(id=f.check_id, severity=f.severity.value, result="Passed" if f.passed else "Failed",
                           message=f.message, remediation="" if f.passed else f.remediation,
                           objects=list(f.objects[:MAX_NAMED_OBJECTS]),
                           migration="" if f.passed else (f.migration or ""), after_upgrade=f.after_upgrade)
               for f in verdict.findings]
    return results + [CheckResult(id=i, severity="Info", result="Skipped", message="skipped by spec.preflight.skip")
                      for i in verdict.skipped]
