"""A cluster that carries every Spiderpool upgrade note of a 0.3.5 install, with known affected objects."""
from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import yaml
from kubernetes import client

from localcluster.objects import apply_with_retry, wait_crd_established
from localcluster.waiting import wait_for

HERE = Path(__file__).parent
GROUP, VERSION = "spiderpool.spidernet.io", "v2beta1"
SP_LABELS = {"app.kubernetes.io/name": "spiderpool"}
IMAGE = "ghcr.io/spidernet-io/spiderpool/spiderpool-{}:v0.3.5"


def install_crds(api: client.ApiClient) -> None:
    for crd in yaml.safe_load_all((HERE / "crds.yaml").read_text()):
        apply_with_retry(api, crd)
        wait_crd_established(api, crd["metadata"]["name"])


def helm_secret(namespace: str, version: str, values: dict) -> dict:
    release = {"name": "spiderpool", "version": 1, "namespace": namespace, "info": {"status": "deployed"},
               "chart": {"metadata": {"name": "spiderpool", "version": version, "appVersion": version}, "values": {}},
               "config": values, "manifest": ""}
    encoded = base64.b64encode(gzip.compress(json.dumps(release).encode())).decode()  # helm's own encoding
    return {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
            "metadata": {"name": "sh.helm.release.v1.spiderpool.v1", "namespace": namespace,
                         "labels": {"owner": "helm", "name": "spiderpool", "status": "deployed", "version": "1"}},
            "stringData": {"release": encoded}}


def agent(namespace: str) -> dict:
    labels = {**SP_LABELS, "app.kubernetes.io/component": "spiderpool-agent"}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "spiderpool-agent", "namespace": namespace},
            "spec": {"selector": {"matchLabels": labels}, "updateStrategy": {"type": "RollingUpdate"},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "hostNetwork": True, "tolerations": [{"operator": "Exists"}],
                         "containers": [{"name": "spiderpool-agent", "image": IMAGE.format("agent"),
                                         "ports": [{"containerPort": 5710}]}]}}}}


def controller(namespace: str, replicas: int) -> dict:
    labels = {**SP_LABELS, "app.kubernetes.io/component": "spiderpool-controller"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "spiderpool-controller", "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "hostNetwork": True,
                         "containers": [{"name": "spiderpool-controller", "image": IMAGE.format("controller"),
                                         "ports": [{"containerPort": 5720}]}]}}}}


def grant_helm_release_reader(api: client.ApiClient, namespace: str) -> None:
    """What a user does for a plugin outside kube-system: bind the operator's helm-release reader there."""
    client.RbacAuthorizationV1Api(api).create_namespaced_role_binding(namespace, {
        "metadata": {"name": "cniupgrade-helm-release-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "cniupgrade-helm-release-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "cniupgrade", "namespace": "cniupgrade-system"}]})


def seed(api: client.ApiClient, namespace: str, nodes: int) -> dict[str, object]:
    """Create the objects; return what each check must name."""
    install_crds(api)
    grant_helm_release_reader(api, namespace)
    core, apps, custom = client.CoreV1Api(api), client.AppsV1Api(api), client.CustomObjectsApi(api)
    core.create_namespaced_secret(namespace, helm_secret(namespace, "0.3.5", {
        "multus": {"multusCNI": {"uninstall": True}}, "ipam": {"enableSpiderSubnet": True}}))
    apps.create_namespaced_daemon_set(namespace, agent(namespace))
    apps.create_namespaced_deployment(namespace, controller(namespace, nodes))
    core.create_namespaced_pod(namespace, {"metadata": {"name": "spiderpool-init", "labels": SP_LABELS},
                                           "spec": {"restartPolicy": "Never", "containers": [
                                               {"name": "init", "image": IMAGE.format("controller")}]}})
    core.create_namespaced_pod(namespace, {"metadata": {"name": "node-exporter"}, "spec": {"containers": [
        {"name": "exporter", "image": "example.com/exporter:1", "ports": [{"containerPort": 9100, "hostPort": 5711}]}]}})

    web = apps.create_namespaced_deployment(namespace, {
        "metadata": {"name": "web"}, "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                                              "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                                                  "containers": [{"name": "web", "image": "example.com/web:1"}]}}}})
    suffix = namespace[-8:]
    old_pool = f"auto-deployment-{namespace}-web-v4-{suffix}"
    manual_pool = f"manual-v4-{suffix}"
    pools = {  # name: (labels, allocated IPs, total IPs)
        old_pool: ({"ipam.spidernet.io/owner-application": f"deployment-{namespace}-web",
                    "ipam.spidernet.io/owner-application-uid": web.metadata.uid,
                    "ipam.spidernet.io/owner-spider-subnet": "subnet-v4"},
                   {"10.6.0.10": {"pod": f"{namespace}/web-0", "podUid": "a"}}, 1),  # full: web-0's restart waits
        manual_pool: ({}, {"10.6.0.11": {"pod": f"{namespace}/db-0", "podUid": "b"},
                           "10.6.0.12": {"pod": f"{namespace}/gone-0", "podUid": "c"}}, 4),  # gone-0's IP leaked
    }
    for name, (labels, allocated, total) in pools.items():
        custom.create_cluster_custom_object(GROUP, VERSION, "spiderippools", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "SpiderIPPool", "metadata": {"name": name, "labels": labels},
            "spec": {"ipVersion": 4, "subnet": "10.6.0.0/16"}})
        custom.patch_cluster_custom_object_status(GROUP, VERSION, "spiderippools", name, {
            "status": {"allocatedIPs": json.dumps(allocated), "allocatedIPCount": len(allocated),
                       "totalIPCount": total}})
    endpoints = {"web-0": ("None", "web-0", "10.6.0.10/16"), "db-0": ("StatefulSet", "db", "10.6.0.11/16"),
                 "web-9": ("Pod", "web-9", "10.6.0.10/16")}  # web-9 holds web-0's IP: the <=0.9.4 GC bug
    for name, (kind, owner, ip) in endpoints.items():
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "spiderendpoints", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "SpiderEndpoint",
            "metadata": {"name": name, "namespace": namespace},
            "status": {"ownerControllerType": kind, "ownerControllerName": owner,
                       "current": {"uid": name, "node": "node-0000", "ips": [{"interface": "eth0", "ipv4": ip}]}}})
    wait_for(lambda: (apps.read_namespaced_daemon_set("spiderpool-agent", namespace).status.number_ready or 0) == nodes,
             60, "spiderpool-agent Ready everywhere")
    return {"old_pool": old_pool, "endpoint_none": f"{namespace}/web-0",
            "duplicate_pods": (f"{namespace}/web-0", f"{namespace}/web-9"), "exporter": f"{namespace}/node-exporter",
            "full_pool": old_pool, "leak": f"{manual_pool} 10.6.0.12 ({namespace}/gone-0)",
            "orphan_endpoints": (f"{namespace}/web-0", f"{namespace}/web-9")}  # db-0: a StatefulSet's, kept


def remove(api: client.ApiClient, namespace: str) -> None:
    """Cluster-scoped pools outlive the test namespace; remove this test's."""
    custom = client.CustomObjectsApi(api)
    for pool in custom.list_cluster_custom_object(GROUP, VERSION, "spiderippools")["items"]:
        if pool["metadata"]["name"].endswith(namespace[-8:]):
            custom.delete_cluster_custom_object(GROUP, VERSION, "spiderippools", pool["metadata"]["name"])
