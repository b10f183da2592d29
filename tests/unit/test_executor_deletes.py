"""A pod is deleted once: a decision made before the watch showed the deletion does not cost a second call."""
from __future__ import annotations

from unittest import mock

from kubernetes import client

from cniupgrade.kube.apply import Executor
from cniupgrade.rollout import actions as act
from tests.unit.builders import daemonset


def test_a_pod_already_deleted_by_this_process_is_not_deleted_again():
    executor = Executor(client.ApiClient(), "ops", "upgrade", "plan-uid")
    executor.core = mock.Mock()
    ds = daemonset(owner="ops/upgrade")
    executor.run(act.DeletePod("agent-a", "uid-a", "n0"), ds, None)
    executor.run(act.DeletePod("agent-a", "uid-a", "n0"), ds, None)
    executor.run(act.DeletePod("agent-b", "uid-b", "n1"), ds, None)
    calls = executor.core.delete_namespaced_pod.call_args_list
    assert [c.args[:2] for c in calls] == [("agent-a", "cni"), ("agent-b", "cni")]
    assert calls[0].kwargs["body"].preconditions.uid == "uid-a"


def test_a_failed_delete_is_tried_again():
    executor = Executor(client.ApiClient(), "ops", "upgrade", "plan-uid")
    executor.core = mock.Mock()
    executor.core.delete_namespaced_pod.side_effect = [client.ApiException(status=500), mock.Mock()]
    ds = daemonset(owner="ops/upgrade")
    try:
        executor.run(act.DeletePod("agent-a", "uid-a", "n0"), ds, None)
    except client.ApiException:
        pass
    executor.run(act.DeletePod("agent-a", "uid-a", "n0"), ds, None)
    assert executor.core.delete_namespaced_pod.call_count == 2
