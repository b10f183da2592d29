"""The reconcile loop under API trouble: conflicts are retried at once, throttling and server errors with
growing backoff (and counted), and a success resets the backoff."""
from __future__ import annotations

from kubernetes.client.rest import ApiException

from cniupgrade import metrics
from cniupgrade.api.status import Phase, UpgradePlanStatus
from cniupgrade.engine import MAX_BACKOFF_SECONDS, PlanRunner
from cniupgrade.status_book import StatusBook


def runner_with(outcomes):
    runner = PlanRunner.__new__(PlanRunner)
    runner.namespace, runner.name, runner.backoff = "ops", "retry", 0.5
    results = iter(outcomes)

    def reconcile_once():
        outcome = next(results)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
    runner.reconcile_once = reconcile_once
    return runner


def test_conflicts_retry_at_once_and_throttling_or_server_errors_back_off():
    errors = lambda: metrics.REGISTRY.get_sample_value("cniupgrade_reconcile_errors_total",  # noqa: E731
                                                       {"namespace": "ops", "plan": "retry"}) or 0
    before = errors()
    runner = runner_with([ApiException(status=409), ApiException(status=429), ApiException(status=500),
                          ApiException(status=503), RuntimeError("connection reset"), 7.0, ApiException(status=500)])
    delays = [runner._step() for _ in range(7)]
    assert delays[0] == 0.05  # 409: decide again from fresh state
    assert delays[1:5] == [0.5, 1.0, 2.0, 4.0]  # 429, 500, 503, a dropped connection: exponential backoff
    assert delays[5] == 7.0 and delays[6] == 0.5  # a success resets it
    assert errors() == before + 5


def test_backoff_is_capped():
    runner = runner_with([ApiException(status=500)] * 12)
    assert max(runner._step() for _ in range(12)) == MAX_BACKOFF_SECONDS


def test_a_waiting_plan_re_runs_costly_checks_less_often():
    from cniupgrade.engine import PREFLIGHT_MIN_INTERVAL, preflight_interval
    assert preflight_interval(0.2) == PREFLIGHT_MIN_INTERVAL  # a small cluster: every 10 s, as before
    assert preflight_interval(15.0) == 150.0  # 100k SpiderEndpoints: the checks take ~1/10 of the time


class RecordingExecutor:
    def __init__(self):
        self.writes, self.events = [], []

    def write_status(self, status) -> str:
        self.writes.append(status)
        return str(100 + len(self.writes))

    def post_event(self, event) -> None:
        self.events.append(event)


def test_a_forbidden_change_is_said_in_status_and_in_one_event_and_retried():
    denied = ApiException(status=403, reason="Forbidden")
    denied.body = ('{"message": "daemonsets.apps \\"agent\\" is forbidden: User '
                   '\\"system:serviceaccount:ops:weak\\" cannot patch resource \\"daemonsets\\""}')
    runner = runner_with([denied, denied])
    runner.status_book, runner.executor, runner._stuck_reported = StatusBook(), RecordingExecutor(), None
    runner.stop_requested = type("Flag", (), {"is_set": lambda self: False})()
    runner.status_book.record(UpgradePlanStatus(phase=Phase.canary, observed_generation=2))
    assert [runner._step() for _ in range(2)] == [0.5, 1.0]  # retried with backoff, as any API error
    stalled = {c.type: c for c in runner.executor.writes[-1].conditions}["Stalled"]
    assert stalled.status == "True" and stalled.reason == "Forbidden"
    assert 'User "system:serviceaccount:ops:weak" cannot patch' in stalled.message
    assert runner.executor.writes[-1].phase is Phase.canary  # the phase it was in; nothing else changed
    assert [e.reason for e in runner.executor.events] == ["Forbidden"]


def test_a_failing_helm_upgrade_is_said_in_status_and_retried():
    from cniupgrade.kube.helm_cli import HelmError
    failed = HelmError("helm upgrade: another operation (install/upgrade/rollback) is in progress")
    runner = runner_with([failed])
    runner.status_book, runner.executor, runner._stuck_reported = StatusBook(), RecordingExecutor(), None
    runner.stop_requested = type("Flag", (), {"is_set": lambda self: False})()
    runner.status_book.record(UpgradePlanStatus(phase=Phase.rolling, observed_generation=2))
    assert runner._step() == 0.5
    stalled = {c.type: c for c in runner.executor.writes[-1].conditions}["Stalled"]
    assert stalled.reason == "HelmFailed" and "another operation" in stalled.message
    assert [e.reason for e in runner.executor.events] == ["HelmFailed"]
