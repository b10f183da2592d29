"""Objects and waits the e2e tests share: an agent DaemonSet, UpgradePlans, kubectl."""
from __future__ import annotations

import subprocess
from pathlib import Path

from kubernetes import client

from cniupgrade.api import models
from cniupgrade.api.status import upgraded_names
from cniupgrade.kube.rosters import RosterReader
from localcluster.waiting import wait_for

AGENT_LABELS = {"app": "cni-agent"}
AGENT_SELECTOR = "app=cni-agent"
ORIGINAL_STRATEGY = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 3, "maxSurge": 0}}


def agent_daemonset(namespace: str, image: str = "example.com/cni/agent:v1.0.0", ready_delay: str | None = None) -> dict:
    annotations = {"pod-ready.stage.kwok.x-k8s.io/delay": ready_delay} if ready_delay else {}
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "cni-agent", "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": AGENT_LABELS},
            "updateStrategy": ORIGINAL_STRATEGY,
            "template": {"metadata": {"labels": AGENT_LABELS, "annotations": annotations}, "spec": {
                "hostNetwork": True, "tolerations": [{"operator": "Exists"}],
                "initContainers": [{"name": "install", "image": image.replace("agent", "install")}],
                "containers": [{"name": "agent", "image": image}]}},
        },
    }


def create_agent(api: client.ApiClient, namespace: str, node_count: int, **kw) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_daemon_set(namespace, agent_daemonset(namespace, **kw))

    def ready():
        status = apps.read_namespaced_daemon_set("cni-agent", namespace).status
        return (status.number_ready or 0) == node_count == status.desired_number_scheduled
    wait_for(ready, 60, f"{node_count} Ready agent pods")


def plan_body(namespace: str, name: str = "upgrade", target: str = "v2.0.0", **spec) -> dict:
    return {"apiVersion": f"{models.GROUP}/{models.VERSION}", "kind": models.KIND,
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"plugin": "generic", "targetVersion": target, "namespace": namespace,
                     "daemonSet": {"name": "cni-agent"}, **spec}}


class Plans:
    def __init__(self, api: client.ApiClient, namespace: str):
        self.custom = client.CustomObjectsApi(api)
        self.namespace = namespace
        self.rosters = RosterReader(api, namespace)

    def create(self, name: str = "upgrade", **kw) -> dict:
        return self.custom.create_namespaced_custom_object(models.GROUP, models.VERSION, self.namespace,
                                                           models.PLURAL, plan_body(self.namespace, name, **kw))

    def get(self, name: str = "upgrade") -> dict:
        return self.custom.get_namespaced_custom_object(models.GROUP, models.VERSION, self.namespace,
                                                        models.PLURAL, name)

    def patch_spec(self, name: str = "upgrade", **spec) -> None:
        self.custom.patch_namespaced_custom_object(models.GROUP, models.VERSION, self.namespace, models.PLURAL,
                                                   name, {"spec": spec})

    def delete(self, name: str = "upgrade") -> None:
        self.custom.delete_namespaced_custom_object(models.GROUP, models.VERSION, self.namespace, models.PLURAL,
                                                    name)

    def status(self, name: str = "upgrade") -> dict:
        """As a reader sees it: a large plan's node names read back from its UpgradePlanRoster."""
        return self.rosters.whole_status(self.get(name).get("status"))

    def wait_phase(self, *phases: str, name: str = "upgrade", timeout: float = 120) -> dict:
        return wait_for(lambda: (s := self.status(name)).get("phase") in phases and s, timeout,
                        f"plan {name} in phase {phases}")

    def condition(self, type_: str, name: str = "upgrade") -> dict:
        return next(c for c in self.status(name).get("conditions", []) if c["type"] == type_)


class Kubectl:
    def __init__(self, binary: Path, kubeconfig: Path):
        self.binary, self.kubeconfig = binary, kubeconfig

    def __call__(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120):
        return subprocess.run([str(self.binary), f"--kubeconfig={self.kubeconfig}", *args], input=input,
                              capture_output=True, text=True, check=check, timeout=timeout)


def end_states(status: dict) -> dict[str, str]:
    """Each node the plan's status names -> its end state: Upgraded, a node result's state (Failed, RolledBack...),
    or the reason the plan left it out. A node named twice fails the test."""
    named: list[tuple[str, str]] = [(name, "Upgraded") for name in upgraded_names(status)]
    named += [(result["name"], result["state"]) for result in status.get("nodes") or []]
    named += [tuple(entry.split(": ", 1)) for entry in (status.get("plan") or {}).get("excluded") or []]
    states = dict(named)
    assert len(states) == len(named), f"a node has two end states: {sorted(named)}"
    return states


def assert_accounted(status: dict, agent_nodes: set[str]) -> dict[str, str]:
    """Every agent node has exactly one end state, no other node has one, and the counts add up."""
    states, counts = end_states(status), status["counts"]
    assert set(states) == agent_nodes, (sorted(set(states) - agent_nodes), sorted(agent_nodes - set(states)))
    assert counts["total"] == len(agent_nodes) == counts["planned"] + counts["excluded"] + counts["notReady"]
    done = ("upgraded", "failed", "rolledBack", "removed", "pending")
    assert counts["planned"] == sum(counts[k] for k in done), counts
    return states


def plan_events(api: client.ApiClient, namespace: str, *wanted: str, name: str = "upgrade",
                timeout: float = 10) -> list:
    """The plan's Events, once one of each `wanted` reason is among them: the operator posts them from a queue,
    just after the status write a test has waited for."""
    core = client.CoreV1Api(api)

    def events() -> list | None:
        found = core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={name},involvedObject.kind={models.KIND}").items
        return found if set(wanted) <= {e.reason for e in found} else None
    return wait_for(events, timeout, f"events {', '.join(wanted)} of UpgradePlan {namespace}/{name}")


class PlanAccount:
    """A ServiceAccount for spec.serviceAccountName with `rules` in its namespace (a Role) and `cluster_rules`
    (a ClusterRole, removed on exit: cluster-scoped objects outlive the test's namespace)."""

    def __init__(self, api: client.ApiClient, namespace: str, name: str, rules: list[dict],
                 cluster_rules: list[dict] | None = None):
        self.rbac, self.namespace, self.name = client.RbacAuthorizationV1Api(api), namespace, name
        self.rules, self.cluster_rules = rules, cluster_rules or []
        self.cluster_name = f"{namespace}-{name}"
        client.CoreV1Api(api).create_namespaced_service_account(namespace, {"metadata": {"name": name}})

    def _binding(self, kind: str, name: str) -> dict:
        return {"metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": self.name, "namespace": self.namespace}]}

    def __enter__(self) -> PlanAccount:
        self.rbac.create_namespaced_role(self.namespace, {"metadata": {"name": self.name}, "rules": self.rules})
        self.rbac.create_namespaced_role_binding(self.namespace, self._binding("Role", self.name))
        if self.cluster_rules:
            self.rbac.create_cluster_role({"metadata": {"name": self.cluster_name}, "rules": self.cluster_rules})
            self.rbac.create_cluster_role_binding(self._binding("ClusterRole", self.cluster_name))
        return self

    def grant(self, rules: list[dict]) -> None:
        self.rules = rules
        self.rbac.patch_namespaced_role(self.name, self.namespace, {"rules": rules})

    def __exit__(self, *exc) -> None:
        if self.cluster_rules:
            self.rbac.delete_cluster_role_binding(self.cluster_name)
            self.rbac.delete_cluster_role(self.cluster_name)


# What an account needs to roll a DaemonSet of its namespace (docs/security.md), pre-pull and probe included.
ROLL_DAEMONSET_RULES = [
    {"apiGroups": ["apps"], "resources": ["daemonsets"],
     "verbs": ["get", "list", "watch", "patch", "create", "delete"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "create", "delete"]},
]
