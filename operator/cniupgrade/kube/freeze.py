"""The change freeze's objects (rollout/change_freeze.py decides when): a ValidatingAdmissionPolicy that fails
every create or update of the frozen kinds, and its binding, which says where (namespaces, objects) and how
(Warn: kubectl shows the message; Deny: refused with it). Both labelled for the plan; the binding also with the
digest of what it enforces, which is how a decision sees whether it is current."""
from __future__ import annotations

import functools
import json

from kubernetes import client
from kubernetes.client.rest import ApiException

from cniupgrade.api.models import GROUP
from cniupgrade.rollout import actions as act

FREEZE_LABEL = f"{GROUP}/change-freeze"  # the digest of what the binding enforces
PLAN_ANNOTATION = f"{GROUP}/plan"
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
# Never frozen: the control plane's own components and controllers, and nodes.
EXEMPT_PREFIXES = ("system:serviceaccount:kube-system:", "system:node:", "system:kube-")
FROZEN_KINDS = ({"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets"]},
                {"apiGroups": [""], "resources": ["services"]})
NOT_FOUND, CONFLICT = 404, 409


@functools.cache
def own_username(api: client.ApiClient) -> str:
    """Who the operator is to the API server (its own writes are never frozen)."""
    review = client.AuthenticationV1Api(api).create_self_subject_review({"apiVersion": "authentication.k8s.io/v1",
                                                                         "kind": "SelfSubjectReview"})
    return review.status.user_info.username


def operator_namespace(username: str) -> str:
    """The operator's namespace, from its ServiceAccount's user name (never frozen)."""
    parts = username.split(":")
    return parts[2] if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"] else "cniupgrade-system"


def cel_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a CEL string literal


def objects(action: act.ApplyChangeFreeze, plan_key: str, exempt_users: tuple[str, ...],
            operator_namespace: str) -> tuple[dict, dict]:
    """The policy and the binding for a freeze."""
    users = "[" + ", ".join(cel_string(u) for u in sorted(set(exempt_users))) + "]"
    prefixes = " || ".join(f"request.userInfo.username.startsWith({cel_string(p)})" for p in EXEMPT_PREFIXES)
    labels = {"app.kubernetes.io/managed-by": "cniupgrade"}
    annotations = {PLAN_ANNOTATION: plan_key}
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": action.name, "labels": labels, "annotations": annotations},
        "spec": {
            "failurePolicy": "Ignore",  # a policy that cannot be evaluated must not stop the cluster
            "matchConstraints": {"resourceRules": [
                {**kinds, "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"]} for kinds in FROZEN_KINDS]},
            "matchConditions": [{"name": "not-exempt",
                                 "expression": f"!(request.userInfo.username in {users}) && !({prefixes})"}],
            "validations": [{"expression": "false", "message": action.message}],
        },
    }
    namespaces = json.loads(action.namespace_selector) or {}
    system = {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
              "values": sorted({*SYSTEM_NAMESPACES, operator_namespace})}
    namespace_selector = {**namespaces, "matchExpressions": [*(namespaces.get("matchExpressions") or []), system]}
    if not namespace_selector.get("matchLabels"):
        namespace_selector.pop("matchLabels", None)
    match = {"namespaceSelector": namespace_selector}
    if json.loads(action.object_selector):
        match["objectSelector"] = json.loads(action.object_selector)
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": action.name, "labels": {**labels, FREEZE_LABEL: action.digest},
                     "annotations": annotations},
        "spec": {"policyName": action.name, "validationActions": [action.mode], "matchResources": match},
    }
    return policy, binding


def apply(api: client.ApiClient, policy: dict, binding: dict) -> None:
    """The policy first, then its binding (a binding without its policy does nothing; the other way round, a
    half-made freeze would be a policy that binds nowhere)."""
    admission = client.AdmissionregistrationV1Api(api)
    _create_or_replace(admission.create_validating_admission_policy, admission.read_validating_admission_policy,
                       admission.replace_validating_admission_policy, policy)
    _create_or_replace(admission.create_validating_admission_policy_binding,
                       admission.read_validating_admission_policy_binding,
                       admission.replace_validating_admission_policy_binding, binding)


def remove(api: client.ApiClient, name: str) -> bool:
    """The binding first (the freeze ends at once), then the policy; True if anything was there."""
    admission = client.AdmissionregistrationV1Api(api)
    removed = False
    for delete in (admission.delete_validating_admission_policy_binding, admission.delete_validating_admission_policy):
        try:
            delete(name)
            removed = True
        except ApiException as exc:
            if exc.status != NOT_FOUND:
                raise
    return removed


def _create_or_replace(create, read, replace, body: dict) -> None:
    try:
        create(body)
        return
    except ApiException as exc:
        if exc.status != CONFLICT:
            raise
    current = read(body["metadata"]["name"])
    replace(body["metadata"]["name"], {**body, "metadata": {**body["metadata"],
                                                             "resourceVersion": current.metadata.resource_version}})
