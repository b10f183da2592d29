"""One plan's reconcile loop: observe (watch caches) -> decide (pure) -> act -> write status -> wait.

It wakes on any watched change (the plan, its DaemonSet and pods, probe pods, nodes) or when a deadline the
decision named is due, never on a fixed polling interval.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import logging
from dataclasses import replace
import threading
import time

from kubernetes import client
from kubernetes.client.rest import ApiException
from pydantic import ValidationError

from cniupgrade import metrics, policy
from cniupgrade.api import conditions as cond
from cniupgrade.api import models
from cniupgrade.api import status as status_api
from cniupgrade.api.roster import RosterMissing
from cniupgrade.kube.apply import Executor
from cniupgrade.kube.preflight import with_preflight
from cniupgrade.kube.rosters import RosterReader
from cniupgrade.kube.view import PlanView
from cniupgrade.kube.watchcache import WatchCache
from cniupgrade.preflight import security_checks
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.decide import Decision, decide, iso, needs_preflight, settled, spec_digest
from cniupgrade.rollout.observation import DaemonSetView, Observation
from cniupgrade.rollout.rollback_request import rollback_requested
from cniupgrade.seams.cluster import Forbidden, StepStuck
from cniupgrade.seams.plugin import plugin_for
from cniupgrade.status_book import StatusBook
from cniupgrade.wake import Wake

log = logging.getLogger(__name__)
IDLE_RECHECK_SECONDS = 60.0
PREFLIGHT_MIN_INTERVAL = 10.0
PREFLIGHT_COST_FACTOR = 10  # a waiting plan's re-checks take at most ~1/10 of the time (they list the cluster)
MAX_BACKOFF_SECONDS = 30.0


def preflight_interval(took: float) -> float:
    """Seconds the checks' result is reused: 10 s, or 10x what they took (100k SpiderEndpoints: ~8 s)."""
    return max(PREFLIGHT_MIN_INTERVAL, PREFLIGHT_COST_FACTOR * took)


def daemonset_name(spec: models.UpgradePlanSpec) -> str:
    return plugin_for(spec).daemonset_name(spec)


class PlanRunner:
    def __init__(self, api: client.ApiClient, namespace: str, name: str, uid: str):
        self.api, self.namespace, self.name, self.uid = api, namespace, name, uid
        self.wake = Wake()
        self.executor = Executor(api, namespace, name, uid)
        self.rosters = RosterReader(api, namespace)
        self.plan = WatchCache(f"plan-{namespace}-{name}", client.CustomObjectsApi(api).list_namespaced_custom_object,
                               self.wake.set, group=models.GROUP, version=models.VERSION, namespace=namespace,
                               plural=models.PLURAL, field_selector=f"metadata.name={name}")
        self.view: PlanView | None = None
        self.backoff = 0.5
        self.stop_requested = threading.Event()  # the plan is being deleted: stop without writing
        self.exiting = threading.Event()  # the operator is shutting down: stop after writing the last status
        self.finished = threading.Event()
        self.status_book = StatusBook()
        self.policy = policy.active()
        self._stuck_reported: str | None = None
        self.preflight_cache: tuple[str, float, Observation] | None = None
        self._spec_cache: tuple[tuple, models.UpgradePlanSpec] | None = None

    def stop_and_wait(self, timeout: float) -> bool:
        """Ask the loop to end and wait until it has: after this it writes nothing more."""
        self.stop_requested.set()
        self.wake.set()
        return self.finished.wait(timeout)

    def exit_soon(self) -> None:
        """The operator is shutting down: end after the current step, as when kopf stops the daemon."""
        self.exiting.set()
        self.wake.set()

    def run(self, stopped) -> None:
        """Reconcile until `stopped` (kopf's daemon flag, or any object with is_set), exit_soon() or
        stop_and_wait()."""
        self.plan.start()
        try:
            while not (stopped.is_set() or self.exiting.is_set() or self.stop_requested.is_set()):
                waited = self.wake.take()
                if waited is not None:
                    metrics.pass_seconds.labels("waited").observe(waited)
                delay = self._step()
                self._sleep(delay, stopped)
        finally:
            if not self.stop_requested.is_set():
                self._flush_status()
            self.plan.stop()
            if self.view:
                self.view.stop()
            self.finished.set()

    def _flush_status(self) -> None:
        """On the way out, write what was decided but not yet written (best effort: it can be re-derived)."""
        try:
            self._write_status(urgent=True)
        except Exception as exc:  # noqa: BLE001 - shutting down; the next leader re-derives it
            log.warning("plan %s/%s: last status not written: %s", self.namespace, self.name, exc)

    def _sleep(self, seconds: float, stopped) -> None:
        deadline = time.monotonic() + seconds
        while not (stopped.is_set() or self.exiting.is_set() or self.stop_requested.is_set() or self.wake.is_set()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.wake.wait(min(remaining, 1.0))  # the slice only bounds how late a stop is noticed

    def _step(self) -> float:
        metrics.reconcile_passes.labels(self.namespace, self.name).inc()
        try:
            delay = self.reconcile_once()
            self.backoff = 0.5
            return delay
        except (ApiException, Forbidden) as exc:
            if exc.status == 409:  # someone changed an object under us: decide again from fresh state
                return 0.05
            if exc.status == 403:
                self._report_stuck("Forbidden", api_message(exc))
            log.warning("plan %s/%s: API error %s %s; retrying in %.1fs", self.namespace, self.name, exc.status,
                        exc.reason, self.backoff)
        except RosterMissing as exc:
            # Nothing is decided or written without the plan's order: a status written now would lose it for good.
            log.warning("plan %s/%s: %s; retrying in %.1fs", self.namespace, self.name, exc, self.backoff)
            if str(exc) != self._stuck_reported:
                self._stuck_reported = str(exc)
                self.executor.post_event(act.Event("Warning", "RosterMissing", f"{exc}: the plan waits; deleting "
                                                   "it releases the DaemonSet"))
        except StepStuck as exc:
            self._report_stuck(exc.reason, str(exc)[:1024])
            log.warning("plan %s/%s: %s; retrying in %.1fs", self.namespace, self.name, exc, self.backoff)
        except Exception:  # noqa: BLE001 - the loop must survive anything and retry
            log.exception("plan %s/%s: reconcile failed; retrying in %.1fs", self.namespace, self.name, self.backoff)
        metrics.error(self.namespace, self.name)
        delay, self.backoff = self.backoff, min(self.backoff * 2, MAX_BACKOFF_SECONDS)
        return delay

    def _report_stuck(self, reason: str, message: str) -> None:
        """A step that fails until someone acts (a change the plan's identity may not make, a helm upgrade that
        fails): said in status and a Warning Event, not only in the log. Nothing of the step was recorded; the
        loop retries it, so fixing the cause (granting the right, settling the release) lets the plan go on."""
        try:
            status = self.status_book.decided or status_api.UpgradePlanStatus()
            now = iso(dt.datetime.now(dt.timezone.utc))
            self.status_book.record(status.model_copy(update={"conditions": cond.lifecycle_conditions(
                status.conditions, status.phase or status_api.Phase.pending, reason, message, now,
                status.observed_generation, blocked=True)}))
            self._write_status(urgent=True)
        except Exception as exc:  # noqa: BLE001 - say it in the log at least
            log.warning("plan %s/%s: could not report %s: %s", self.namespace, self.name, reason, exc)
        if message != self._stuck_reported:
            self._stuck_reported = message
            self.executor.post_event(act.Event("Warning", reason, message))

    def reconcile_once(self) -> float:
        if not self.plan.wait_synced(30):
            raise TimeoutError("the plan's watch did not sync")
        body = self.plan.get(self.namespace, self.name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return IDLE_RECHECK_SECONDS
        generation = body["metadata"].get("generation", 0)
        retry = (body["metadata"].get("annotations") or {}).get(models.RETRY_ANNOTATION)
        status = self.status_book.base(body, self._parse_status)
        try:
            spec = self._spec(body)
            ds_name = daemonset_name(spec)
        except (ValidationError, ValueError) as exc:
            return self._invalid(status, generation, str(exc))
        boundary = security_checks.namespace_boundary(self.namespace, spec.namespace, self.policy)
        now, plan_key = dt.datetime.now(dt.timezone.utc), f"{self.namespace}/{self.name}"
        rollback = rollback_requested(body)
        if settled(spec, status, retry, rollback):
            # A finished plan needs nothing from the cluster: it drops its watches (a GitOps repo keeps old plans
            # around; each would otherwise wake on every pod event) and wakes again when its spec changes.
            self._drop_view()
            observation = Observation(now=now, plan_key=plan_key, daemonset=None, current_revision=None)
        elif not boundary.passed:
            self._drop_view()  # nothing of a namespace the plan may not manage is read, let alone changed
            observation = Observation.refused(now, plan_key, boundary)
        else:
            self._ensure_view(spec.namespace, ds_name, plugin_for(spec).control_plane(spec),
                              spec.change_freeze.mode is not models.FreezeMode.off)
            with metrics.pass_seconds.labels("observe").time():
                observation = self.view.observe()
                if needs_preflight(spec, status, retry, rollback):
                    observation = self._preflight(spec, observation)
        with metrics.pass_seconds.labels("decide").time():
            decision = decide(spec, status, observation, generation, retry, rollback)
        with metrics.pass_seconds.labels("act").time():
            write_in = self._carry_out(spec, decision, status)
        delay = IDLE_RECHECK_SECONDS if decision.requeue_after is None else decision.requeue_after
        return delay if write_in is None else min(delay, write_in)

    def _parse_status(self, body: dict) -> status_api.UpgradePlanStatus:
        """The stored status, its plan's names read back from its roster (RosterMissing when they cannot be)."""
        return parse_status({**body, "status": self.rosters.whole_status(body.get("status"))})

    def _spec(self, body: dict) -> models.UpgradePlanSpec:
        """The parsed spec, kept per generation (the API server bumps it on every spec change)."""
        key = (body["metadata"].get("uid"), body["metadata"].get("generation"))
        if self._spec_cache is None or self._spec_cache[0] != key:
            self._spec_cache = (key, models.UpgradePlanSpec.of_plan(body.get("spec"), self.namespace))
        return self._spec_cache[1]

    def _drop_view(self) -> None:
        if self.view:
            self.view.stop()
            self.view = None

    def _preflight(self, spec: models.UpgradePlanSpec, observation: Observation) -> Observation:
        """The plugin's checks read much of the cluster: a plan waiting (for approval, the pre-pull, a fix) re-runs
        them per spec at most every preflight_interval() of their last duration."""
        key = spec_digest(spec)
        cached = self.preflight_cache
        if cached and cached[0] == key and time.monotonic() < cached[1]:
            done = cached[2]
            return replace(observation, installed_version=done.installed_version, preflight=done.preflight,
                           excluded_nodes=done.excluded_nodes, chart=done.chart)
        started = time.monotonic()
        observation = with_preflight(self.api, spec, observation, self.policy, self.namespace)
        finished = time.monotonic()
        self.preflight_cache = (key, finished + preflight_interval(finished - started), observation)
        return observation

    def _ensure_view(self, namespace: str, ds_name: str, deployments: tuple[str, ...], watch_freeze: bool) -> None:
        if self.view and (self.view.namespace, self.view.ds_name, self.view.deployment_names,
                          self.view.watch_freeze) == (namespace, ds_name, deployments, watch_freeze):
            return
        if self.view:
            self.view.stop()
        self.view = PlanView(self.api, namespace, ds_name, f"{self.namespace}/{self.name}", self.uid, self.wake.set,
                             deployments, deleted_by_us=self.executor.deleted_uids, watch_freeze=watch_freeze)

    def _carry_out(self, spec: models.UpgradePlanSpec, decision: Decision,
                   status: status_api.UpgradePlanStatus) -> float | None:
        """Act, then record the status; returns when a deferred status write is due (None: nothing pending)."""
        raw_ds = self.view.daemonsets.get(self.view.namespace, self.view.ds_name) if self.view else None
        ds = DaemonSetView.from_api(raw_ds) if raw_ds is not None else None
        self.executor.act_for(spec, decision.status)
        if any(isinstance(a, act.RunMigration) for a in decision.actions):
            self.preflight_cache = None  # the checks must look at the cluster as the migrations leave it
        # consecutive pod deletions run at once, and so do consecutive node taints; everything else in order
        for at_once, group in itertools.groupby(decision.actions, key=lambda a: type(a) if isinstance(
                a, (act.DeletePod, act.SetInFlightTaint)) else None):
            for action in ([list(group)] if at_once else group):
                if self.stop_requested.is_set():
                    return None  # the plan is being deleted: its finalizer releases the DaemonSet
                if at_once:
                    self.executor.run_at_once(action, ds)
                elif done := self.executor.run(action, ds, raw_ds):  # an after-success action recorded this
                    decision.status = done.status
                    if done.reason:
                        decision.events.append(act.Event("Warning" if done.warning else "Normal", done.reason,
                                                         done.message))
                    if done.retry_in is not None:
                        decision.requeue_after = min(decision.requeue_after or done.retry_in, done.retry_in)
        previous = self.status_book.decided
        self.status_book.record(decision.status)
        phase_changed = decision.status.phase != status.phase
        if phase_changed:
            # Before the status: a crash between the two would otherwise lose the Events of the plan's outcome
            # for good (the next pass sees the new phase and decides nothing). Named by the decision, the same
            # decision taken again after a crash before the write posts nothing twice.
            for index, event in enumerate(decision.events):
                self.executor.post_event_once(event, transition_event_name(self.name, self.uid, status,
                                                                           decision.status, index))
        urgent = phase_changed or any(e.type == "Warning" for e in decision.events)
        try:
            write_in = self._write_status(urgent)
        except Exception:
            # Not written (say the API server restarts): the next pass decides it again from the cluster, its
            # events included, instead of starting from a phase change nobody was told about.
            self.status_book.record(previous)
            raise
        metrics.observe(self.namespace, self.name, spec.plugin, decision.status, decision.newly_upgraded,
                        decision.tainted, decision.freeze)
        for event in decision.events:
            log.info("plan %s/%s: %s: %s", self.namespace, self.name, event.reason, event.message,
                     extra={"plan": f"{self.namespace}/{self.name}", "step": event.reason})
            if not phase_changed:
                self.executor.post_event(event)
        return write_in

    def _write_status(self, urgent: bool) -> float | None:
        """Write the decided status if it is due; returns seconds until a deferred write is due."""
        due = self.status_book.due(urgent)
        if due is None or self.stop_requested.is_set():
            return None
        if due > 0:
            return due
        self.status_book.wrote(self.executor.write_status(self.status_book.decided))
        return None

    def _invalid(self, status: status_api.UpgradePlanStatus, generation: int, message: str) -> float:
        now = iso(dt.datetime.now(dt.timezone.utc))
        new = status.model_copy(update={
            "observed_generation": generation, "phase": status_api.Phase.failed,
            "conditions": cond.lifecycle_conditions(status.conditions, status_api.Phase.failed, "InvalidSpec", message,
                                                    now, generation)})
        self.status_book.record(new)
        self._write_status(urgent=True)
        return IDLE_RECHECK_SECONDS


def api_message(exc: ApiException | Forbidden) -> str:
    """The API server's own message, from the Status it answered with."""
    try:
        return json.loads(exc.body)["message"]
    except (TypeError, ValueError, KeyError):
        return exc.reason or "forbidden"


def transition_event_name(plan: str, uid: str, before: status_api.UpgradePlanStatus,
                          after: status_api.UpgradePlanStatus, index: int) -> str:
    """The name of the index-th Event of a phase change: the same for the same change decided again (from the
    same stored status), another for any later change (new generation, retry, run)."""
    key = json.dumps([uid, after.observed_generation, before.phase, after.phase, after.started_at,
                      after.last_handled_retry, index])
    return f"{plan[:200]}.{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def parse_status(body: dict) -> status_api.UpgradePlanStatus:
    try:
        return status_api.UpgradePlanStatus.model_validate(body.get("status") or {})
    except ValidationError:
        log.warning("unreadable status on %s; starting from an empty one", body["metadata"]["name"])
        return status_api.UpgradePlanStatus()
