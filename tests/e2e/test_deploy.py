"""deploy/ applies to the real control plane, and the operator's RBAC really is least-privilege."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from localcluster.objects import api_client

REPO = Path(__file__).resolve().parents[2]


def test_the_kustomize_base_applies_cleanly_server_side(kubectl, operator_rbac):
    """A dry run persists nothing, so the namespace comes from the installed RBAC fixture."""
    rendered = kubectl("kustomize", str(REPO / "deploy")).stdout
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(rendered) if d)
    assert kinds == ["ClusterRole", "ClusterRole", "ClusterRole", "ClusterRoleBinding", "ClusterRoleBinding",
                     "ConfigMap", "CustomResourceDefinition", "CustomResourceDefinition", "Deployment", "Namespace",
                     "Role", "RoleBinding", "RoleBinding", "RoleBinding", "Service", "ServiceAccount",
                     "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
    result = kubectl("apply", "--server-side", "--dry-run=server", "--force-conflicts", "-f", "-", input=rendered,
                     check=False)
    assert result.returncode == 0, result.stderr
    assert "deployment.apps/cniupgrade serverside-applied (server dry run)" in result.stdout, result.stdout


def test_no_rule_uses_a_wildcard():
    for doc in yaml.safe_load_all((REPO / "deploy" / "rbac.yaml").read_text()):
        for rule in doc.get("rules", []):
            assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"], rule


@pytest.mark.parametrize("attempt", ["delete node", "read a secret", "list secrets here", "patch a pod",
                                     "bind cluster-admin"])
def test_a_forbidden_verb_is_really_forbidden(operator_rbac, admin_api, namespace, attempt):
    core = client.CoreV1Api(admin_api)
    core.create_namespaced_secret(namespace, {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    as_operator = api_client(operator_rbac)
    calls = {
        "delete node": lambda: client.CoreV1Api(as_operator).delete_node("node-0000"),
        "read a secret": lambda: client.CoreV1Api(as_operator).read_namespaced_secret("s", namespace),
        "list secrets here": lambda: client.CoreV1Api(as_operator).list_namespaced_secret(namespace),
        "patch a pod": lambda: client.CoreV1Api(as_operator).patch_namespaced_pod(
            "any", namespace, {"metadata": {"labels": {"x": "y"}}}),
        "bind cluster-admin": lambda: client.RbacAuthorizationV1Api(as_operator).create_cluster_role_binding({
            "metadata": {"name": "escalate"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                                          "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "cniupgrade", "namespace": "cniupgrade-system"}]}),
    }
    with pytest.raises(ApiException) as raised:
        calls[attempt]()
    assert raised.value.status == 403
    assert "system:serviceaccount:cniupgrade-system:cniupgrade" in raised.value.body
