"""The mechanics the rollout relies on, proven on the real control plane."""
from __future__ import annotations

from kubernetes import client

from localcluster.waiting import wait_for

REVISION_LABEL = "controller-revision-hash"


def agent_daemonset(namespace: str, image: str) -> dict:
    labels = {"app": "smoke-agent"}
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "smoke-agent", "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "OnDelete"},
            "template": {"metadata": {"labels": labels}, "spec": {
                "hostNetwork": True, "tolerations": [{"operator": "Exists"}],
                "containers": [{"name": "agent", "image": image}]}},
        },
    }


def pods_by_node(core: client.CoreV1Api, namespace: str) -> dict[str, client.V1Pod]:
    pods = core.list_namespaced_pod(namespace, label_selector="app=smoke-agent").items
    return {p.spec.node_name: p for p in pods if p.metadata.deletion_timestamp is None}


def is_ready(pod: client.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def newest_revision_hash(apps: client.AppsV1Api, namespace: str) -> str:
    revisions = apps.list_namespaced_controller_revision(namespace).items
    newest = max(revisions, key=lambda r: r.revision)
    return newest.metadata.labels[REVISION_LABEL]


def test_daemonset_on_delete_replaces_only_the_deleted_node(admin_api, namespace):
    core, apps = client.CoreV1Api(admin_api), client.AppsV1Api(admin_api)
    node_names = {n.metadata.name for n in core.list_node(label_selector="type=kwok").items}
    apps.create_namespaced_daemon_set(namespace, agent_daemonset(namespace, "example.com/agent:v1"))

    def all_ready():
        pods = pods_by_node(core, namespace)
        return pods if set(pods) == node_names and all(map(is_ready, pods.values())) else None

    before = wait_for(all_ready, 60, "a Ready agent pod on every simulated node")
    old_hash = newest_revision_hash(apps, namespace)
    assert {p.metadata.labels[REVISION_LABEL] for p in before.values()} == {old_hash}

    apps.patch_namespaced_daemon_set("smoke-agent", namespace, {"spec": {"template": {"spec": {
        "containers": [{"name": "agent", "image": "example.com/agent:v2"}]}}}})
    new_hash = wait_for(lambda: (h := newest_revision_hash(apps, namespace)) != old_hash and h, 30,
                        "a new ControllerRevision")

    target = sorted(node_names)[0]
    core.delete_namespaced_pod(before[target].metadata.name, namespace)

    def replaced():
        pod = pods_by_node(core, namespace).get(target)
        return pod if pod and pod.metadata.uid != before[target].metadata.uid and is_ready(pod) else None

    new_pod = wait_for(replaced, 60, f"a new Ready pod on {target}")
    assert new_pod.metadata.labels[REVISION_LABEL] == new_hash
    assert new_pod.spec.containers[0].image == "example.com/agent:v2"

    after = pods_by_node(core, namespace)
    for node, pod in after.items():
        if node == target:
            continue
        assert pod.metadata.uid == before[node].metadata.uid, f"{node}'s pod was replaced"
        assert pod.metadata.labels[REVISION_LABEL] == old_hash
    ds = apps.read_namespaced_daemon_set("smoke-agent", namespace)
    assert ds.status.updated_number_scheduled == 1


def test_rbac_is_enforced_for_service_accounts(cluster, admin_api, namespace, tmp_path):
    """The cluster authorizes with RBAC, so a ServiceAccount kubeconfig really is least-privilege."""
    from kubernetes.client.rest import ApiException

    from localcluster import serviceaccount
    from localcluster.objects import api_client

    core = client.CoreV1Api(admin_api)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "nobody"}})
    kubeconfig = serviceaccount.kubeconfig_for(cluster, namespace, "nobody", tmp_path / "kubeconfig")
    as_nobody = client.CoreV1Api(api_client(kubeconfig))
    try:
        as_nobody.list_namespaced_pod(namespace)
    except ApiException as exc:
        assert exc.status == 403
        assert f"system:serviceaccount:{namespace}:nobody" in exc.body
    else:
        raise AssertionError("a ServiceAccount without RoleBindings could list pods")
