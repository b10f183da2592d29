"""Events are posted from one worker: the loop does not wait for them, and they keep their order."""
from __future__ import annotations

import threading
from unittest import mock

from kubernetes import client

from cniupgrade.kube import event_queue
from cniupgrade.kube.apply import Executor
from cniupgrade.rollout import actions as act


def test_posting_an_event_does_not_wait_for_the_api_and_events_keep_their_order():
    executor = Executor(client.ApiClient(), "ops", "upgrade", "plan-uid")
    executor.events = mock.Mock()
    api_may_answer = threading.Event()
    executor.events.create_namespaced_event.side_effect = lambda *a, **kw: (api_may_answer.wait(10), mock.Mock())[1]
    for reason in ("DaemonSetPrepared", "BatchStarted", "BatchSucceeded"):
        executor.post_event(act.Event("Normal", reason, "m"))
    assert executor.events.create_namespaced_event.call_count <= 1  # the first one waits on the API, not the loop
    api_may_answer.set()
    assert event_queue.shared().drain(10) == 0  # the worker has posted them all
    posted = [c.args[1].reason for c in executor.events.create_namespaced_event.call_args_list]
    assert posted == ["DaemonSetPrepared", "BatchStarted", "BatchSucceeded"]


def test_a_failed_event_is_logged_and_the_next_one_still_posted(caplog):
    executor = Executor(client.ApiClient(), "ops", "upgrade", "plan-uid")
    executor.events = mock.Mock()
    executor.events.create_namespaced_event.side_effect = [ConnectionResetError("reset"), mock.Mock()]
    executor.post_event(act.Event("Normal", "First", "m"))
    executor.post_event(act.Event("Normal", "Second", "m"))
    assert event_queue.shared().drain(10) == 0
    assert executor.events.create_namespaced_event.call_count == 2
    assert "could not post event First" in caplog.text


def test_at_exit_events_the_api_does_not_take_get_a_bounded_wait_and_are_counted():
    queue = event_queue.EventQueue("test-events")
    api_may_answer = threading.Event()
    posted = []
    for reason in ("First", "Second"):
        queue.submit(lambda r: (api_may_answer.wait(10), posted.append(r)), reason)
    assert queue.drain(0.2) == 2  # an unreachable API server does not hold the exit
    api_may_answer.set()
    assert queue.drain(10) == 0 and posted == ["First", "Second"]
