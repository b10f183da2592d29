"""Which cluster and namespace, as kubectl decides them: --kubeconfig, else $KUBECONFIG (a list of files), else
~/.kube/config, else the pod's own credentials in a cluster; --context, else the current context; -n, else the
context's namespace, else default. kubectl passes none of its flags to a plugin: we read them ourselves."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config
from kubernetes.config import ConfigException

from cniupgrade.kubectl_plugin.failures import EXIT_NO_CLUSTER, PluginError

DEFAULT_KUBECONFIG = "~/.kube/config"
IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
REQUEST_SECONDS = 10.0  # one call's limit: an unreachable cluster is an error, not a wait


@dataclass(frozen=True)
class Target:
    kubeconfig: str | None = None  # --kubeconfig
    context: str | None = None  # --context
    namespace: str | None = None  # -n/--namespace

    def kubeconfig_files(self, environ=os.environ) -> str:
        return self.kubeconfig or environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG


def kubeconfig_present(files: str) -> bool:
    return any(Path(p).expanduser().is_file() for p in files.split(os.pathsep) if p)


def in_cluster(target: Target, environ=os.environ) -> bool:
    """No kubeconfig named or found, inside a pod: its ServiceAccount, as kubectl does."""
    return (not target.kubeconfig and not environ.get("KUBECONFIG") and not kubeconfig_present(DEFAULT_KUBECONFIG)
            and bool(environ.get("KUBERNETES_SERVICE_HOST")))


def connect(target: Target) -> client.ApiClient:
    configuration = client.Configuration()
    try:
        if in_cluster(target):
            config.load_incluster_config(client_configuration=configuration)
        else:
            files = target.kubeconfig_files()
            if not kubeconfig_present(files):
                raise PluginError(EXIT_NO_CLUSTER, f"no kubeconfig at {files} (set KUBECONFIG or pass --kubeconfig)")
            config.load_kube_config(config_file=files, context=target.context, client_configuration=configuration,
                                    persist_config=False)
    except ConfigException as exc:
        raise PluginError(EXIT_NO_CLUSTER, f"cannot use the kubeconfig: {exc}") from exc
    configuration.retries = 1  # urllib3 retries a refused connection 3 times by default
    return client.ApiClient(configuration)


def namespace_of(target: Target) -> str:
    """-n, else the namespace of the context in use, else the pod's namespace in a cluster, else default."""
    if target.namespace:
        return target.namespace
    if in_cluster(target):
        try:
            return IN_CLUSTER_NAMESPACE.read_text().strip() or "default"
        except OSError:
            return "default"
    files = target.kubeconfig_files()
    if not kubeconfig_present(files):
        return "default"  # connect() says what is missing
    try:
        contexts, current = config.list_kube_config_contexts(config_file=files)
    except ConfigException:
        return "default"
    chosen = next((c for c in contexts if c.get("name") == target.context), None) if target.context else current
    return ((chosen or {}).get("context") or {}).get("namespace") or "default"
