"""A plan's outcome Events survive a crash between them and the status write, and are not posted twice when the
same decision is taken again."""
from __future__ import annotations

import threading

from cniupgrade.api.status import Phase, UpgradePlanStatus
from cniupgrade.engine import PlanRunner, transition_event_name
from cniupgrade.rollout import actions as act
from cniupgrade.rollout.context import Decision
from cniupgrade.status_book import StatusBook

from tests.unit.builders import spec as make_spec


class CrashingExecutor:
    """Records what reaches the API server, in order; the status write fails as a crash at that moment would."""
    def __init__(self, write_fails: bool):
        self.write_fails, self.calls, self.named = write_fails, [], set()

    def act_for(self, spec, status) -> None:
        pass

    def write_status(self, status) -> str:
        self.calls.append(("status", status.phase))
        if self.write_fails:
            raise ConnectionResetError("killed")
        return "101"

    def post_event(self, event) -> None:
        self.calls.append(("queued", event.reason))

    def post_event_once(self, event, name: str) -> None:
        if name not in self.named:  # the API server refuses a second Event of the same name
            self.named.add(name)
            self.calls.append(("event", event.reason))


def runner(executor) -> PlanRunner:
    runner = PlanRunner.__new__(PlanRunner)
    runner.namespace, runner.name, runner.uid, runner.view = "ops", "upgrade", "uid-1", None
    runner.status_book, runner.executor, runner.stop_requested = StatusBook(), executor, threading.Event()
    return runner


def succeeded(before: UpgradePlanStatus) -> Decision:
    after = before.model_copy(update={"phase": Phase.succeeded})
    return Decision(after, events=[act.Event("Normal", "UpgradeSucceeded", "all 3 planned node(s) upgraded")])


def test_outcome_events_go_out_before_the_status_and_once_across_a_crash():
    rolling = UpgradePlanStatus(phase=Phase.rolling, observed_generation=2, started_at="2026-12-02T10:00:00Z")
    executor = CrashingExecutor(write_fails=True)
    try:
        runner(executor)._carry_out(make_spec(), succeeded(rolling), rolling)
    except ConnectionResetError:
        pass
    assert executor.calls == [("event", "UpgradeSucceeded"), ("status", Phase.succeeded)]
    executor.write_fails = False
    runner(executor)._carry_out(make_spec(), succeeded(rolling), rolling)  # the next operator decides it again
    assert executor.calls[2:] == [("status", Phase.succeeded)]  # its Event is there already: not posted twice


def test_events_that_change_no_phase_are_queued():
    rolling = UpgradePlanStatus(phase=Phase.rolling, observed_generation=2)
    executor = CrashingExecutor(write_fails=False)
    decision = Decision(rolling, events=[act.Event("Normal", "BatchStarted", "batch 2/3")])
    runner(executor)._carry_out(make_spec(), decision, rolling)
    assert executor.calls == [("status", Phase.rolling), ("queued", "BatchStarted")]  # after it, off the loop


def test_a_later_change_to_the_same_phase_gets_its_own_event_name():
    rolling = UpgradePlanStatus(phase=Phase.rolling, observed_generation=2, started_at="2026-12-02T10:00:00Z")
    first = transition_event_name("upgrade", "uid-1", rolling, rolling.model_copy(update={"phase": Phase.failed}), 0)
    again = transition_event_name("upgrade", "uid-1", rolling, rolling.model_copy(update={"phase": Phase.failed}), 0)
    retried = rolling.model_copy(update={"last_handled_retry": "2026-12-02T11:00:00Z"})
    after_retry = transition_event_name("upgrade", "uid-1", retried, retried.model_copy(update={"phase": Phase.failed}),
                                        0)
    next_generation = transition_event_name("upgrade", "uid-1", rolling, rolling.model_copy(
        update={"phase": Phase.failed, "observed_generation": 3}), 0)
    assert first == again and len({first, after_retry, next_generation}) == 3
    assert first.startswith("upgrade.") and len(transition_event_name("p" * 253, "u", rolling, rolling, 0)) <= 253
