"""A DaemonSet patch carries the resourceVersion it was decided from; a 409 caused only by the DaemonSet
controller's status writes is sent again with the fresh version, any other change fails the pass."""
from __future__ import annotations

import json
from unittest import mock

import pytest
from kubernetes import client

from cniupgrade.kube.apply import Executor
from cniupgrade.rollout import actions as act

OWNER = "cniupgrade.io/owner"


def raw_daemonset(version: str, generation: int = 2, owner: str = "ops/upgrade", ready: int = 3) -> dict:
    return {"metadata": {"name": "agent", "namespace": "cni", "resourceVersion": version, "generation": generation,
                         "annotations": {OWNER: owner}},
            "spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "agent:v2"}]}}},
            "status": {"numberReady": ready}}


def executor_reading(fresh: dict) -> Executor:
    executor = Executor(client.ApiClient(), "ops", "upgrade", "plan-uid")
    executor.apps = mock.Mock()
    executor.apps.read_namespaced_daemon_set.return_value = mock.Mock(data=json.dumps(fresh).encode())
    return executor


def release() -> act.ReleaseDaemonSet:
    return act.ReleaseDaemonSet({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}})


def sent_versions(executor: Executor) -> list[str]:
    return [c.args[2]["metadata"]["resourceVersion"] for c in executor.apps.patch_namespaced_daemon_set.call_args_list]


def test_a_conflict_from_status_writes_alone_is_sent_again_with_the_fresh_version():
    executor = executor_reading(raw_daemonset("12", ready=3))
    executor.apps.patch_namespaced_daemon_set.side_effect = [client.ApiException(status=409), mock.Mock()]
    executor.run(release(), None, raw_daemonset("10", ready=1))
    assert sent_versions(executor) == ["10", "12"]
    patch = executor.apps.patch_namespaced_daemon_set.call_args.args[2]
    assert patch["spec"]["updateStrategy"]["rollingUpdate"] == {"maxUnavailable": 1}
    assert patch["metadata"]["annotations"][OWNER] is None


@pytest.mark.parametrize("fresh", [raw_daemonset("12", generation=3), raw_daemonset("12", owner="ops/other")],
                         ids=["spec changed", "owner changed"])
def test_a_conflict_from_a_change_the_decision_read_fails_the_pass(fresh):
    executor = executor_reading(fresh)
    executor.apps.patch_namespaced_daemon_set.side_effect = client.ApiException(status=409)
    with pytest.raises(client.ApiException) as raised:
        executor.run(release(), None, raw_daemonset("10"))
    assert raised.value.status == 409
    assert sent_versions(executor) == ["10"]


def test_a_second_conflict_is_not_retried_again():
    executor = executor_reading(raw_daemonset("12"))
    executor.apps.patch_namespaced_daemon_set.side_effect = client.ApiException(status=409)
    with pytest.raises(client.ApiException):
        executor.run(release(), None, raw_daemonset("10"))
    assert sent_versions(executor) == ["10", "12"]
