"""A 0.3.5 install as that era had it: CRDs that serve and store only v1 (crds-v1.yaml) and objects created as v1,
so the API server keeps v1 in each CRD's status.storedVersions."""
from __future__ import annotations

import yaml
from kubernetes import client

from localcluster.objects import apply_with_retry, wait_crd_established
from localcluster.waiting import wait_for
from simulated.spiderpool import seed

GROUP, V1 = seed.GROUP, "v1"
KINDS = {"spiderippools": "SpiderIPPool", "spidersubnets": "SpiderSubnet", "spiderreservedips": "SpiderReservedIP",
         "spiderendpoints": "SpiderEndpoint"}
CLUSTER_SCOPED = ("spiderippools", "spidersubnets", "spiderreservedips")


def remove_crds(api: client.ApiClient) -> None:
    """Every Spiderpool CRD (and so every Spiderpool object): CRDs are cluster-wide, other tests install theirs."""
    ext = client.ApiextensionsV1Api(api)
    ours = lambda: [c.metadata.name for c in ext.list_custom_resource_definition().items  # noqa: E731
                    if c.spec.group == GROUP]
    for name in ours():
        ext.delete_custom_resource_definition(name)
    wait_for(lambda: not ours(), 120, "Spiderpool CRDs gone")


def install_crds(api: client.ApiClient) -> None:
    for crd in yaml.safe_load_all((seed.HERE / "crds-v1.yaml").read_text()):
        apply_with_retry(api, crd)
        wait_crd_established(api, crd["metadata"]["name"])


def v1_object(plural: str, name: str, namespace: str | None = None, **fields) -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": f"{GROUP}/{V1}", "kind": KINDS[plural], "metadata": meta, **fields}


def create_v1(api: client.ApiClient, plural: str, body: dict) -> None:
    custom = client.CustomObjectsApi(api)
    if plural in CLUSTER_SCOPED:
        custom.create_cluster_custom_object(GROUP, V1, plural, body)
    else:
        custom.create_namespaced_custom_object(GROUP, V1, body["metadata"]["namespace"], plural, body)


def seed_v1(api: client.ApiClient, namespace: str, nodes: int, pools: int, endpoints: int) -> dict[str, list[str]]:
    """A 0.3.5 install (helm release, agent, one controller) with v1 objects: `pools` SpiderIPPools (cluster-scoped),
    `endpoints` SpiderEndpoints in `namespace` (the first with ownerControllerType None, as 0.3.x recorded a bare
    pod), two SpiderSubnets and three SpiderReservedIPs. Returns the names created, by plural."""
    install_crds(api)
    seed.grant_helm_release_reader(api, namespace)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespaced_secret(namespace, seed.helm_secret(namespace, "0.3.5", {}))
    apps.create_namespaced_daemon_set(namespace, seed.agent(namespace))
    apps.create_namespaced_deployment(namespace, seed.controller(namespace, 1))
    suffix = namespace[-8:]
    created: dict[str, list[str]] = {plural: [] for plural in KINDS}

    def add(plural: str, body: dict) -> None:
        create_v1(api, plural, body)
        meta = body["metadata"]
        created[plural].append(f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"])

    for i in range(2):
        add("spidersubnets", v1_object("spidersubnets", f"subnet-{i}-{suffix}",
                                       spec={"ipVersion": 4, "subnet": f"10.{20 + i}.0.0/16"}))
    for i in range(pools):
        add("spiderippools", v1_object("spiderippools", f"pool-{i:03d}-{suffix}",
                                       spec={"ipVersion": 4, "subnet": "10.20.0.0/16", "ips": [f"10.20.{i}.0/24"]}))
    for i in range(3):
        add("spiderreservedips", v1_object("spiderreservedips", f"reserved-{i}-{suffix}",
                                           spec={"ipVersion": 4, "ips": [f"10.21.0.{i + 1}"]}))
    for i in range(endpoints):
        owner = ("None", f"bare-{i}") if i == 0 else ("StatefulSet", "db")
        add("spiderendpoints", v1_object("spiderendpoints", f"db-{i}", namespace, status={
            "ownerControllerType": owner[0], "ownerControllerName": owner[1],
            "current": {"uid": f"uid-{i}", "node": "node-0000",
                        "ips": [{"interface": "eth0", "ipv4": f"10.20.{i // 200}.{i % 200 + 1}/16"}]}}))
    wait_for(lambda: (apps.read_namespaced_daemon_set("spiderpool-agent", namespace).status.number_ready or 0) == nodes,
             60, "spiderpool-agent Ready everywhere")
    return created
