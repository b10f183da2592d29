"""The reconcile loop under API trouble: conflicts are retried at once, throttling and server errors with
growing backoff (and counted), and a success resets the backoff."""
from __future__ import annotations

from kubernetes.client.rest import ApiException

from cniupgrade import metrics
from cniupgrade.engine import MAX_BACKOFF_SECONDS, PlanRunner


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
