"""Issue 28's attack, as a new user met it: a plan in an ordinary namespace names the privileged agent DaemonSet
of another namespace and an attacker's image. It is refused at admission; without the admission policy the
operator stops it before reading anything there. A trusted namespace still manages another one; a plan acting as
its ServiceAccount can do no more than that account; an image outside the policy is refused in pre-flight."""
from __future__ import annotations

import uuid

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from cniupgrade.api import models
from localcluster import deployment
from tests.e2e.conftest import E2E_NODES, TEST_IMAGE_REPOSITORIES
from tests.e2e.kit import (ORIGINAL_STRATEGY, ROLL_DAEMONSET_RULES, PlanAccount, Plans, create_agent, plan_body,
                          plan_events)
from localcluster.waiting import wait_for

ATTACKER_IMAGE = "attacker.example/miner:latest"
BINDING = "cniupgrade-namespace-boundary"
OWNER = "cniupgrade.io/owner"


@pytest.fixture
def victim(admin_api):
    """The namespace of the privileged CNI agent the attacker aims at."""
    name = f"cni-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(admin_api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    create_agent(admin_api, name, E2E_NODES)
    yield name
    core.delete_namespace(name)


def attack(plan_namespace: str, victim: str) -> dict:
    body = plan_body(plan_namespace, name="innocent")
    body["spec"].update(namespace=victim, daemonSet={"name": "cni-agent", "images": {"agent": ATTACKER_IMAGE}},
                        rollout={"maxUnavailable": 32, "canary": {"count": 0}})
    return body


def create(api, body: dict, dry_run: str | None = None) -> dict:
    return client.CustomObjectsApi(api).create_namespaced_custom_object(
        models.GROUP, models.VERSION, body["metadata"]["namespace"], models.PLURAL, body,
        **({"dry_run": dry_run} if dry_run else {}))


def assert_untouched(api, namespace: str) -> None:
    ds = client.AppsV1Api(api).read_namespaced_daemon_set("cni-agent", namespace)
    assert ds.spec.template.spec.containers[0].image == "example.com/cni/agent:v1.0.0"
    assert ds.spec.update_strategy.type == ORIGINAL_STRATEGY["type"]
    assert OWNER not in (ds.metadata.annotations or {})
    prepull = client.AppsV1Api(api).list_namespaced_daemon_set(namespace, label_selector="cniupgrade.io/prepull-for")
    assert not prepull.items
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace).items
    assert all(c.image != ATTACKER_IMAGE for p in pods for c in p.spec.containers)


def check(status: dict, check_id: str) -> dict:
    return next(c for c in status.get("checks", []) if c["id"] == check_id)


def test_the_attack_is_refused_at_admission_naming_the_rule(admin_api, namespace, victim, operator_policy):
    with pytest.raises(ApiException) as refused:
        create(admin_api, attack(namespace, victim))
    assert refused.value.status in (403, 422)
    assert f"spec.namespace {victim} is outside the plan's namespace {namespace}" in refused.value.body
    assert "trusted namespace (cniupgrade-system, kube-system)" in refused.value.body
    assert BINDING in refused.value.body
    assert_untouched(admin_api, victim)


@pytest.fixture
def without_admission_policy(admin_api, kubectl, operator_policy):
    """The admission policy removed (say it was never installed); put back afterwards."""
    admission = client.AdmissionregistrationV1Api(admin_api)
    admission.delete_validating_admission_policy_binding(BINDING)
    yield
    docs = deployment.policy_documents(allowedImageRepositories=TEST_IMAGE_REPOSITORIES)
    kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(docs))

    def refused_again():
        try:
            create(admin_api, attack("default", "kube-system"), dry_run="All")
        except ApiException as exc:
            return exc.status in (403, 422)
        return False
    wait_for(refused_again, 30, "the admission policy to refuse cross-namespace plans again")


def test_without_the_admission_policy_the_operator_stops_the_attack_before_reading_anything(
        admin_api, namespace, victim, operator, without_admission_policy):
    def admitted():
        try:
            return create(admin_api, attack(namespace, victim))
        except ApiException as exc:
            if exc.status not in (403, 422):  # refused while the API server still holds the removed binding
                raise
            return None
    wait_for(admitted, 30, "the plan to be admitted", interval=1)
    plans = Plans(admin_api, namespace)
    status = plans.wait_phase("Preflight", name="innocent", timeout=60)
    boundary = check(status, "security.namespace-boundary")
    assert boundary["result"] == "Failed" and boundary["severity"] == "Error"
    assert f"outside the plan's namespace {namespace}" in boundary["message"]
    stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True" and stalled["reason"] == "PreflightBlocked"
    # nothing of the victim's namespace was read into the plan, let alone changed
    assert not status.get("plan") and not status.get("targetImages") and not status.get("previousImages")
    assert not status.get("fromVersion")
    plan_events(admin_api, namespace, "CheckFailed", "PreflightBlocked", name="innocent")
    assert_untouched(admin_api, victim)
    plans.delete("innocent")
    wait_for(lambda: not plans.custom.list_namespaced_custom_object(models.GROUP, models.VERSION, namespace,
                                                                     models.PLURAL)["items"], 30, "the plan gone")
    assert_untouched(admin_api, victim)  # its finalizer touched nothing there either


def test_a_plan_in_a_trusted_namespace_manages_another_namespace(admin_api, namespace, operator):
    create_agent(admin_api, namespace, E2E_NODES)
    trusted = Plans(admin_api, "cniupgrade-system")
    name = f"trusted-{namespace}"
    body = plan_body("cniupgrade-system", name=name)
    body["spec"].update(namespace=namespace, rollout={"maxUnavailable": 8})
    create(admin_api, body)
    try:
        status = trusted.wait_phase("Succeeded", "Failed", name=name, timeout=120)
        assert status["phase"] == "Succeeded", status
        assert check(status, "security.namespace-boundary")["result"] == "Passed"
        ds = client.AppsV1Api(admin_api).read_namespaced_daemon_set("cni-agent", namespace)
        assert ds.spec.template.spec.containers[0].image == "example.com/cni/agent:v2.0.0"
    finally:
        trusted.delete(name)


def test_an_image_outside_the_policy_stops_the_plan_in_preflight(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES)
    plans.create(daemonSet={"name": "cni-agent", "images": {"agent": ATTACKER_IMAGE}})
    status = plans.wait_phase("Preflight", timeout=60)
    images = check(status, "security.image-policy")
    assert images["result"] == "Failed"
    assert images["objects"] == [f"DaemonSet {namespace}/cni-agent container agent: {ATTACKER_IMAGE}"]
    assert "example.com" in images["message"]  # the allowed repositories are named
    assert_untouched(admin_api, namespace)


def test_a_plan_acting_as_its_service_account_can_do_no_more_than_it_may(admin_api, namespace, operator, plans):
    create_agent(admin_api, namespace, E2E_NODES)
    read_only = [{"apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": ["get", "list", "watch"]},
                 {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "delete"]}]
    with PlanAccount(admin_api, namespace, "cni-upgrader", read_only) as account:
        plans.create(serviceAccountName="cni-upgrader", prePull={"enabled": False}, rollout={"maxUnavailable": 8})

        def forbidden():
            return next((c for c in plans.status().get("conditions", [])
                         if c["type"] == "Stalled" and c["reason"] == "Forbidden"), None)
        stalled = wait_for(forbidden, 60, "the plan to report the denied write")
        assert f'User "system:serviceaccount:{namespace}:cni-upgrader" cannot patch resource "daemonsets"' \
            in stalled["message"]
        plan_events(admin_api, namespace, "Forbidden")
        assert_untouched(admin_api, namespace)  # the operator could have; the account it acts as may not

        account.grant(ROLL_DAEMONSET_RULES)  # granted: the plan goes on by itself
        status = plans.wait_phase("Succeeded", "Failed", timeout=120)
    assert status["phase"] == "Succeeded", status
    assert next(c for c in status["conditions"] if c["type"] == "Ready")["status"] == "True"
