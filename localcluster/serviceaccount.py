"""A kubeconfig that acts as a ServiceAccount (TokenRequest API), to run the operator with its own RBAC."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kubernetes import client

from localcluster.cluster import write_kubeconfig
from localcluster.objects import api_client

if TYPE_CHECKING:
    from localcluster.cluster import LocalCluster


def kubeconfig_for(cluster: LocalCluster, namespace: str, name: str, out: Path,
                   expiration_seconds: int = 24 * 3600) -> Path:
    core = client.CoreV1Api(api_client(cluster.kubeconfig))
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=expiration_seconds))
    token = core.create_namespaced_service_account_token(name, namespace, request).status.token
    write_kubeconfig(out, cluster.server, cluster.pki.cert("ca"), user={"token": token},
                     context=f"{namespace}-{name}")
    return out
