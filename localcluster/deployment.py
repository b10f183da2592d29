"""The operator as deploy/ installs it, for an operator process run beside the local cluster (e2e tests, the
demo, the bench): the manifests to apply first, and the environment the Deployment would give it."""
from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
POLICY_CONFIGMAP = "cniupgrade-policy"
# Applied before the operator starts; the Deployment itself is replaced by a local process.
MANIFESTS = (REPO / "crds" / "upgradeplan.yaml", REPO / "crds" / "upgradeplanroster.yaml", DEPLOY / "namespace.yaml", DEPLOY / "rbac.yaml",
             DEPLOY / "policy.yaml")


def policy_documents(**data: str) -> list[dict]:
    """deploy/policy.yaml's documents, its ConfigMap's data changed by `data` (e.g. allowedImageRepositories)."""
    docs = [d for d in yaml.safe_load_all((DEPLOY / "policy.yaml").read_text()) if d]
    for doc in docs:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == POLICY_CONFIGMAP:
            unknown = set(data) - set(doc["data"])
            if unknown:
                raise KeyError(f"{POLICY_CONFIGMAP} has no key {', '.join(sorted(unknown))}")
            doc["data"].update(data)
    return docs


def policy_env(docs: list[dict]) -> dict[str, str]:
    """The environment deploy/deployment.yaml maps from the policy ConfigMap's keys."""
    data = next(d["data"] for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == POLICY_CONFIGMAP)
    deployment = yaml.safe_load((DEPLOY / "deployment.yaml").read_text())
    env = {}
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        for var in container.get("env") or []:
            ref = (var.get("valueFrom") or {}).get("configMapKeyRef") or {}
            if ref.get("name") == POLICY_CONFIGMAP:
                env[var["name"]] = data[ref["key"]]
    return env
