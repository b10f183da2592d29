"""Events are posted from one worker: the loop does not wait for them, and they keep their order."""
from __future__ import annotations

import threading
from unittest import mock

from kubernetes import client

from cniupgrade.kube import apply
from cniupgrade.kube.apply import Executor
from cniupgrade.rollout import actions as act


def test_posting_an_event_does_not_wait_for_the_api_and_events_keep_their_order():
    executor = Executor(client.ApiClient(), "ops", "upgrade", "plan-uid")
    executor.core = mock.Mock()
    api_may_answer = threading.Event()
    executor.core.create_namespaced_event.side_effect = lambda *a, **kw: (api_may_answer.wait(10), mock.Mock())[1]
    for reason in ("DaemonSetPrepared", "BatchStarted", "BatchSucceeded"):
        executor.post_event(act.Event("Normal", reason, "m"))
    assert executor.core.create_namespaced_event.call_count <= 1  # the first one waits on the API, not the loop
    api_may_answer.set()
    apply._event_pool().submit(lambda: None).result(10)  # the worker has drained the queue
    posted = [c.args[1].reason for c in executor.core.create_namespaced_event.call_args_list]
    assert posted == ["DaemonSetPrepared", "BatchStarted", "BatchSucceeded"]


def test_a_failed_event_is_logged_and_the_next_one_still_posted(caplog):
    executor = Executor(client.ApiClient(), "ops", "upgrade", "plan-uid")
    executor.core = mock.Mock()
    executor.core.create_namespaced_event.side_effect = [ConnectionResetError("reset"), mock.Mock()]
    executor.post_event(act.Event("Normal", "First", "m"))
    executor.post_event(act.Event("Normal", "Second", "m"))
    apply._event_pool().submit(lambda: None).result(10)
    assert executor.core.create_namespaced_event.call_count == 2
    assert "could not post event First" in caplog.text
