"""spec.changeFreeze with a real kubectl against the real API server's ValidatingAdmissionPolicies: Warn shows a
warning naming the plan, Deny refuses; the operator's own writes go through; the freeze is lifted at the end, after
a SIGKILL and resume, and when the plan is deleted."""
from __future__ import annotations

import urllib.request

import yaml
from kubernetes import client

from cniupgrade.rollout.change_freeze import freeze_name
from localcluster.waiting import wait_for
from tests.e2e.conftest import E2E_NODES
from tests.e2e.kit import create_agent

FREEZE_LABEL = "cniupgrade-e2e/frozen"


def deployment(name: str, image: str = "registry.k8s.io/pause:3.10") -> str:
    return yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": image}]}}}})


def apps_namespace(api: client.ApiClient, namespace: str) -> str:
    """A namespace of someone's workloads, selected by the plan's freeze (the plan's own is too)."""
    name = f"{namespace}-apps"
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": name, "labels": {FREEZE_LABEL: "yes"}}})
    core.patch_namespace(namespace, {"metadata": {"labels": {FREEZE_LABEL: "yes"}}})
    return name


def freeze_objects(api: client.ApiClient, namespace: str) -> list[str]:
    admission = client.AdmissionregistrationV1Api(api)
    name = freeze_name(f"{namespace}/upgrade")
    found = []
    for read in (admission.read_validating_admission_policy, admission.read_validating_admission_policy_binding):
        try:
            found.append(read(name).kind)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
    return found


def freeze_metric(operator, namespace: str, mode: str) -> float:
    text = urllib.request.urlopen(operator.metrics_url, timeout=10).read().decode()
    return next(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                if line.startswith("cniupgrade_change_freeze{") and f'namespace="{namespace}"' in line
                and f'mode="{mode}"' in line)


def frozen_rollout(admin_api, namespace: str, plans, kubectl, mode: str, ready_delay: str) -> str:
    """The agent, and a plan freezing its own namespace and an apps namespace, which is returned once the freeze
    is in place."""
    apps = apps_namespace(admin_api, namespace)
    create_agent(admin_api, namespace, E2E_NODES, ready_delay=ready_delay)
    plans.create(changeFreeze={"mode": mode, "namespaceSelector": {"matchLabels": {FREEZE_LABEL: "yes"}}},
                 rollout={"maxUnavailable": 2})
    wait_for(lambda: len(freeze_objects(admin_api, namespace)) == 2, 60, "the freeze in place")
    wait_for(lambda: in_force(kubectl, apps, namespace), 30, "the freeze in force")
    return apps


def in_force(kubectl, apps: str, namespace: str) -> bool:
    """The API server loads a new policy a moment after it is created: a server dry run shows when."""
    probe = kubectl("apply", "--dry-run=server", "-n", apps, "-f", "-", input=deployment("probe"), check=False)
    return f"UpgradePlan {namespace}/upgrade" in probe.stderr


def test_warn_shows_kubectl_a_warning_naming_the_plan_and_ends_with_the_plan(admin_api, namespace, operator, plans,
                                                                            kubectl):
    apps = frozen_rollout(admin_api, namespace, plans, kubectl, "Warn", ready_delay="1s")
    applied = kubectl("apply", "-n", apps, "-f", "-", input=deployment("web"))
    assert "Warning:" in applied.stderr and f"UpgradePlan {namespace}/upgrade" in applied.stderr, applied.stderr
    assert kubectl("get", "deployment", "web", "-n", apps).returncode == 0  # warned, not refused
    assert freeze_metric(operator, namespace, "Warn") == 1
    plans.wait_phase("Succeeded", timeout=240)
    assert freeze_objects(admin_api, namespace) == []
    assert freeze_metric(operator, namespace, "Warn") == 0
    wait_for(lambda: not in_force(kubectl, apps, namespace), 30, "the freeze lifted")
    after = kubectl("apply", "-n", apps, "-f", "-", input=deployment("web", "registry.k8s.io/pause:3.9"))
    assert "Warning" not in after.stderr
    client.CoreV1Api(admin_api).delete_namespace(apps)


def test_deny_refuses_others_changes_not_the_operators_and_survives_a_sigkill(admin_api, namespace, operator, plans,
                                                                             kubectl):
    apps = frozen_rollout(admin_api, namespace, plans, kubectl, "Deny", ready_delay="2s")
    refused = kubectl("apply", "-n", apps, "-f", "-", input=deployment("web"), check=False)
    assert refused.returncode != 0 and f"UpgradePlan {namespace}/upgrade" in refused.stderr, refused.stderr
    assert kubectl("get", "deployment", "web", "-n", apps, check=False).returncode != 0
    service = yaml.safe_dump({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                              "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}}})
    assert kubectl("apply", "-n", apps, "-f", "-", input=service, check=False).returncode != 0
    # a system namespace is never frozen, whatever the selector
    assert kubectl("apply", "-n", "kube-public", "-f", "-", input=deployment(f"free-{namespace}")).returncode == 0
    kubectl("delete", "deployment", f"free-{namespace}", "-n", "kube-public")

    wait_for(lambda: plans.status().get("counts", {}).get("upgraded", 0) >= 2, 120, "nodes upgraded under Deny")
    operator.kill()
    client.AdmissionregistrationV1Api(admin_api).delete_validating_admission_policy_binding(
        freeze_name(f"{namespace}/upgrade"))  # someone removes it while the operator is down: put back
    operator.start()
    wait_for(lambda: len(freeze_objects(admin_api, namespace)) == 2 or plans.status().get("phase") == "Succeeded",
             60, "the freeze back")
    plans.wait_phase("Succeeded", timeout=240)  # the operator's own DaemonSet patches were not refused
    assert freeze_objects(admin_api, namespace) == []
    wait_for(lambda: not in_force(kubectl, apps, namespace), 30, "the freeze lifted")
    assert kubectl("apply", "-n", apps, "-f", "-", input=deployment("web")).returncode == 0
    client.CoreV1Api(admin_api).delete_namespace(apps)


def test_a_deleted_plan_lifts_its_freeze(admin_api, namespace, operator, plans, kubectl):
    apps = frozen_rollout(admin_api, namespace, plans, kubectl, "Deny", ready_delay="5s")
    plans.delete()
    wait_for(lambda: freeze_objects(admin_api, namespace) == [], 60, "the freeze lifted by the finalizer")
    wait_for(lambda: not in_force(kubectl, apps, namespace), 30, "the freeze no longer in force")
    assert kubectl("apply", "-n", apps, "-f", "-", input=deployment("web")).returncode == 0
    client.CoreV1Api(admin_api).delete_namespace(apps)
