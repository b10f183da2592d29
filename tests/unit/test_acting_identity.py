"""A plan's changes are made as its ServiceAccount when it names one; its status and Events as the operator."""
from __future__ import annotations

from unittest import mock

from kubernetes import client

from cniupgrade.kube.apply import Executor
from cniupgrade.kube.client import IMPERSONATE_USER, acting_client
from cniupgrade.rollout import actions as act


def test_without_an_account_the_operator_acts_itself():
    api = client.ApiClient()
    assert acting_client(api, "team-a", None) is api


def test_an_account_is_impersonated_in_the_plans_own_namespace_only():
    api = client.ApiClient()
    acting = acting_client(api, "team-a", "cni-upgrader")
    assert acting.default_headers[IMPERSONATE_USER] == "system:serviceaccount:team-a:cni-upgrader"
    assert IMPERSONATE_USER not in api.default_headers  # the operator's own client is untouched
    assert acting.configuration is api.configuration
    assert acting_client(api, "team-a", "cni-upgrader") is acting  # one client per account


def test_workload_changes_go_through_the_acting_client_and_status_through_the_operators():
    api, acting = client.ApiClient(), client.ApiClient()
    executor = Executor(api, "team-a", "upgrade", "plan-uid", acting)
    assert executor.apps.api_client is acting and executor.core.api_client is acting
    assert executor.custom.api_client is api and executor.events.api_client is api


def created_pod_spec(action, executor: Executor, ds=None) -> dict:
    executor.core, executor.apps = mock.Mock(), mock.Mock()
    executor.run(action, ds, {"metadata": {"namespace": "cni", "name": "agent"},
                              "spec": {"template": {"spec": {"containers": []}}}})
    if isinstance(action, act.CreateProbe):
        return executor.core.create_namespaced_pod.call_args.args[1]["spec"]
    return executor.apps.create_namespaced_daemon_set.call_args.args[1]["spec"]["template"]["spec"]


def test_the_probe_and_pre_pull_pods_run_with_the_least_they_need():
    executor = Executor(client.ApiClient(), "ops", "upgrade", "plan-uid")
    ds = mock.Mock(namespace="cni")
    probe = created_pod_spec(act.CreateProbe("node-1", "registry.k8s.io/pause:3.10"), executor, ds)
    pull = created_pod_spec(act.StartPrePull(("r/agent:v2",)), executor)
    assert not probe.get("hostNetwork")  # it tests the pod network
    assert pull["hostNetwork"] is True  # it must not need the CNI being replaced
    for pod_spec in (probe, pull):
        assert pod_spec["securityContext"]["runAsNonRoot"] is True and pod_spec["automountServiceAccountToken"] is False
        for container in pod_spec["containers"]:
            security = container["securityContext"]
            assert security["privileged"] is False and security["allowPrivilegeEscalation"] is False
            assert security["readOnlyRootFilesystem"] is True and security["capabilities"] == {"drop": ["ALL"]}
            assert container["resources"]["limits"]["memory"] and not container.get("ports")
