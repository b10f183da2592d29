"""Installs for the object-knowledge tests (issue 23): a 0.9.5 install whose objects set the fields 1.0.0 renames
or drops, and a 0.5.0 install that never got the default SpiderCoordinator and SpiderMultusConfig."""
from __future__ import annotations

import time

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from localcluster.objects import apply_with_retry, wait_crd_established
from localcluster.waiting import wait_for
from simulated.spiderpool.seed import GROUP, HERE, VERSION, agent, controller, grant_helm_release_reader, helm_secret

SPIDER_CRDS = tuple(f"{plural}.{GROUP}" for plural in (
    "spiderippools", "spidersubnets", "spiderendpoints", "spidercoordinators", "spidermultusconfigs"))


def reset_crds(api: client.ApiClient, timeout: float = 60) -> None:
    """Delete every Spiderpool CRD (and so every object): CRDs outlive a test, and a field another test's apply
    owns would stay in the schema."""
    ext = client.ApiextensionsV1Api(api)
    for name in SPIDER_CRDS:
        try:
            ext.delete_custom_resource_definition(name)
        except ApiException as exc:
            if exc.status != 404:
                raise
    deadline = time.monotonic() + timeout
    left = {c.metadata.name for c in ext.list_custom_resource_definition().items} & set(SPIDER_CRDS)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = {c.metadata.name for c in ext.list_custom_resource_definition().items} & set(SPIDER_CRDS)
    assert not left, f"CRDs {left} not deleted after {timeout}s"


def install_crds(api: client.ApiClient, file: str) -> None:
    for crd in yaml.safe_load_all((HERE / file).read_text()):
        apply_with_retry(api, crd)
        wait_crd_established(api, crd["metadata"]["name"])


def install(api: client.ApiClient, namespace: str, nodes: int, version: str, values: dict) -> None:
    """Spiderpool `version` as helm and its workloads record it, the controller Ready."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    grant_helm_release_reader(api, namespace)
    core.create_namespaced_secret(namespace, helm_secret(namespace, version, values))
    for kind, body in (("daemon_set", agent(namespace)), ("deployment", controller(namespace, 1))):
        text = yaml.safe_dump(body).replace("v0.3.5", f"v{version}")
        getattr(apps, f"create_namespaced_{kind}")(namespace, yaml.safe_load(text))
    wait_for(lambda: (apps.read_namespaced_deployment("spiderpool-controller", namespace).status.ready_replicas
                      or 0) == 1, 60, "spiderpool-controller Ready")
    wait_for(lambda: (apps.read_namespaced_daemon_set("spiderpool-agent", namespace).status.number_ready or 0)
             == nodes, 60, "spiderpool-agent Ready everywhere")


def seed_0_9(api: client.ApiClient, namespace: str, nodes: int) -> dict[str, dict]:
    """0.9.5 with the 0.9 CRDs and one object of each kind setting fields 1.0.0 renames or drops."""
    reset_crds(api)
    install_crds(api, "crds-0.9.yaml")
    install(api, namespace, nodes, "0.9.5", {})
    custom = client.CustomObjectsApi(api)
    suffix = namespace[-8:]
    objects = {
        "spiderippools": {"metadata": {"name": f"vlan-pool-{suffix}"},
                          "spec": {"ipVersion": 4, "subnet": "10.20.0.0/24", "vlan": 20}},
        "spidersubnets": {"metadata": {"name": f"vlan-subnet-{suffix}"},
                          "spec": {"ipVersion": 4, "subnet": "10.20.0.0/16", "vlan": 20}},
        "spidercoordinators": {"metadata": {"name": "default"},
                               "spec": {"mode": "auto", "detectGateway": True, "hostRPFilter": 0}},
        "spidermultusconfigs": {"metadata": {"name": "rdma", "namespace": namespace},
                                "spec": {"cniType": "sriov", "sriov": {"resourceName": "r", "enableRdma": True},
                                         "ibsriov": {"resourceName": "ib", "ibKubernetesEnabled": True}}},
    }
    kinds = {"spiderippools": "SpiderIPPool", "spidersubnets": "SpiderSubnet",
             "spidercoordinators": "SpiderCoordinator", "spidermultusconfigs": "SpiderMultusConfig"}
    for plural, body in objects.items():
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kinds[plural], **body}
        if plural == "spidermultusconfigs":
            custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)
        else:
            custom.create_cluster_custom_object(GROUP, VERSION, plural, body)
    return objects


def seed_0_5(api: client.ApiClient, namespace: str, nodes: int, values: dict) -> None:
    """0.5.0 with the CRDs of an old install (no SpiderMultusConfig CRD) and no default objects."""
    reset_crds(api)
    install_crds(api, "crds.yaml")
    install(api, namespace, nodes, "0.5.0", values)
