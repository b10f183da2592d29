"""A finished plan watches nothing: it drops its pod, node and DaemonSet watches and decides without them,
until its spec changes (then it plans again, with watches)."""
from __future__ import annotations

from cniupgrade.api import models
from cniupgrade.api import status as status_api
from cniupgrade.engine import PlanRunner
from cniupgrade.kube.rosters import RosterReader
from cniupgrade.policy import SecurityPolicy
from cniupgrade.rollout.decide import spec_digest
from cniupgrade.status_book import StatusBook
from tests.unit.builders import spec


class FakePlanCache:
    def __init__(self, body: dict):
        self.body = body

    def wait_synced(self, timeout: float) -> bool:
        return True

    def get(self, namespace: str, name: str) -> dict:
        return self.body


class FakeView:
    def __init__(self):
        self.stopped = False
        self.namespace, self.ds_name, self.deployment_names, self.watch_freeze = "cni", "agent", (), False

    def stop(self) -> None:
        self.stopped = True

    def observe(self):
        raise AssertionError("a finished plan must not observe the cluster")


class RecordingExecutor:
    def __init__(self):
        self.writes = []

    def write_status(self, status) -> str:
        self.writes.append(status)
        return str(100 + len(self.writes))

    def post_event(self, event) -> None:
        pass

    def post_event_once(self, event, name: str) -> None:
        pass

    def act_for(self, spec, decided) -> None:
        self.spec, self.decided = spec, decided


def runner_for(body: dict, view: FakeView) -> PlanRunner:
    runner = PlanRunner.__new__(PlanRunner)
    runner.api, runner.namespace, runner.name, runner.uid = None, "ops", "upgrade", "plan-uid"
    runner.plan, runner.view, runner.executor = FakePlanCache(body), view, RecordingExecutor()
    runner.rosters = RosterReader(None, "ops")
    runner.status_book, runner.preflight_cache, runner._spec_cache = StatusBook(), None, None
    runner.policy = SecurityPolicy(trusted_namespaces=frozenset({"ops"}))  # the plan in ops manages namespace cni
    runner.stop_requested = type("Flag", (), {"is_set": lambda self: False})()
    return runner


def body(plan_spec, phase: str, spec_hash: str, generation: int = 3, retry: str | None = None,
         handled_retry: str | None = None) -> dict:
    return {"metadata": {"name": "upgrade", "namespace": "ops", "uid": "plan-uid", "generation": generation,
                         "resourceVersion": "7", "annotations": {models.RETRY_ANNOTATION: retry} if retry else {}},
            "spec": plan_spec.model_dump(mode="json", by_alias=True, exclude_none=True),
            "status": {"phase": phase, "specHash": spec_hash, "observedGeneration": generation,
                       "lastHandledRetry": handled_retry}}


def test_a_succeeded_plan_drops_its_watches_and_decides_without_them():
    plan_spec = spec()
    view = FakeView()
    runner = runner_for(body(plan_spec, "Succeeded", spec_digest(plan_spec)), view)
    runner.reconcile_once()
    assert view.stopped and runner.view is None
    assert runner.status_book.decided.phase is status_api.Phase.succeeded
    runner.reconcile_once()  # and stays without them
    assert runner.view is None


def test_a_finished_plan_whose_spec_changed_plans_again_with_watches():
    plan_spec = spec()
    view = FakeView()
    runner = runner_for(body(plan_spec, "Succeeded", "an-older-spec"), view)
    try:
        runner.reconcile_once()
    except AssertionError as exc:
        assert "must not observe" in str(exc)  # it went on to observe the cluster: it is planning again
    else:
        raise AssertionError("a changed spec must be planned from the cluster")
    assert not view.stopped


def test_a_failed_plan_with_a_new_retry_value_plans_again_with_watches_and_only_once():
    plan_spec = spec()
    handled = FakeView()
    runner = runner_for(body(plan_spec, "Failed", spec_digest(plan_spec), retry="1", handled_retry="1"), handled)
    runner.reconcile_once()
    assert handled.stopped and runner.view is None  # acted on already: stays finished
    view = FakeView()
    runner = runner_for(body(plan_spec, "Failed", spec_digest(plan_spec), retry="2", handled_retry="1"), view)
    try:
        runner.reconcile_once()
    except AssertionError as exc:
        assert "must not observe" in str(exc)
    else:
        raise AssertionError("a new retry value must be planned from the cluster")
    assert not view.stopped


def test_a_phase_change_whose_status_write_failed_is_decided_again_with_its_events():
    from kubernetes.client.rest import ApiException

    from cniupgrade.rollout.decide import Decision
    from cniupgrade.rollout import actions as act

    plan_spec = spec()
    runner = runner_for(body(plan_spec, "Rolling", spec_digest(plan_spec)), FakeView())
    runner.view = None
    before = status_api.UpgradePlanStatus(phase=status_api.Phase.rolling)
    runner.status_book.record(before)

    def unavailable(status):
        raise ApiException(status=503, reason="the API server restarts")
    runner.executor.write_status = unavailable
    done = Decision(status_api.UpgradePlanStatus(phase=status_api.Phase.succeeded),
                    events=[act.Event("Normal", "UpgradeSucceeded", "all nodes upgraded")])
    try:
        runner._carry_out(plan_spec, done, before)
    except ApiException:
        pass
    else:
        raise AssertionError("the failed write must surface")
    assert runner.status_book.decided is before  # the next pass starts before the change and emits it again
