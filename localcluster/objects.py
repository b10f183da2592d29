"""API objects the local cluster needs (kwok stages), through the official Python client."""
from __future__ import annotations

import time
from pathlib import Path

import yaml
from kubernetes import client, config, dynamic
from kubernetes.client.rest import ApiException

from localcluster import stages


FIELD_MANAGER = "localcluster"


def api_client(kubeconfig) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    configuration.connection_pool_maxsize = 32  # node creation runs 16 threads
    return client.ApiClient(configuration)


def apply(api: client.ApiClient, obj: dict) -> None:
    """Server-side apply one object of any kind."""
    dyn = dynamic.DynamicClient(api)
    resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    namespace = obj["metadata"].get("namespace") if resource.namespaced else None
    resource.server_side_apply(body=obj, name=obj["metadata"]["name"], namespace=namespace,
                               field_manager=FIELD_MANAGER, force_conflicts=True)


def wait_crd_established(api: client.ApiClient, name: str, timeout: float = 60) -> None:
    ext = client.ApiextensionsV1Api(api)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crd = ext.read_custom_resource_definition(name)
        if any(c.type == "Established" and c.status == "True" for c in (crd.status.conditions or [])):
            return
        time.sleep(0.1)
    raise TimeoutError(f"CRD {name} not Established after {timeout}s")


def install_kwok_stages(kubeconfig: Path, kwok_assets: Path, pod_ready_delay_ms: int,
                        pod_ready_jitter_ms: int, node_heartbeat_seconds: int | None = None) -> None:
    api = api_client(kubeconfig)
    crd = yaml.safe_load((kwok_assets / "stage-crd.yaml").read_text())
    apply(api, crd)
    wait_crd_established(api, crd["metadata"]["name"])
    for stage in stages.load(kwok_assets, pod_ready_delay_ms, pod_ready_jitter_ms, node_heartbeat_seconds):
        apply_with_retry(api, stage)


def apply_with_retry(api: client.ApiClient, obj: dict, timeout: float = 30) -> None:
    """Apply, retrying while a freshly created CRD's kind is not yet discoverable."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return apply(api, obj)
        except (ApiException, dynamic.exceptions.ResourceNotFoundError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def wait_default_service_account(kubeconfig: Path, timeout: float = 60) -> None:
    """Pods need the namespace's `default` ServiceAccount, made by the controller-manager."""
    core = client.CoreV1Api(api_client(kubeconfig))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            core.read_namespaced_service_account("default", "default")
            return
        except ApiException as exc:
            if exc.status != 404:
                raise
        time.sleep(0.2)
    raise TimeoutError("the controller-manager did not create the default ServiceAccount")
