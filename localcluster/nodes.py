"""Simulated nodes: Node objects that kwok manages, with realistic labels."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException

from localcluster import processes
from localcluster.objects import api_client


ZONES = ("zone-a", "zone-b", "zone-c")
NODE_ANNOTATION = {"kwok.x-k8s.io/node": "fake"}


def node_name(index: int) -> str:
    return f"node-{index:04d}"


def manifest(index: int) -> dict:
    name = node_name(index)
    # Addresses are only strings in the API: nothing on this machine sends traffic to them.
    internal_ip = f"10.{128 + index // 65536}.{index // 256 % 256}.{index % 256}"
    capacity = {"cpu": "32", "memory": "256Gi", "pods": "250"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": name, "annotations": dict(NODE_ANNOTATION),
            "labels": {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/region": "local", "topology.kubernetes.io/zone": ZONES[index % len(ZONES)],
                "node.kubernetes.io/instance-type": "kwok.simulated", "type": "kwok",
            },
        },
        "spec": {"podCIDR": f"10.{64 + index // 256}.{index % 256}.0/24"},
        "status": {
            "capacity": capacity, "allocatable": capacity,
            "addresses": [{"type": "InternalIP", "address": internal_ip}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux", "osImage": "Simulated Linux (kwok)",
                         "kernelVersion": "6.1.0-kwok", "kubeletVersion": "v1.36.3-kwok",
                         "containerRuntimeVersion": "kwok://0.8.0", "kubeProxyVersion": "",
                         "bootID": f"boot-{name}", "machineID": f"machine-{name}", "systemUUID": f"uuid-{name}"},
        },
    }


def create(kubeconfig: Path, count: int, start: int = 0) -> list[str]:
    core = client.CoreV1Api(api_client(kubeconfig))

    def create_one(index: int) -> str:
        try:
            core.create_node(manifest(index))
        except ApiException as exc:
            if exc.status != 409:
                raise
        return node_name(index)

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(create_one, range(start, start + count)))


def ready_count(core: client.CoreV1Api) -> int:
    ready = 0
    for node in core.list_node(label_selector="type=kwok").items:
        if any(c.type == "Ready" and c.status == "True" for c in (node.status.conditions or [])):
            ready += 1
    return ready


def wait_ready(kubeconfig: Path, count: int, kwok_pid: int, kwok_log: Path, timeout: float = 120) -> None:
    core = client.CoreV1Api(api_client(kubeconfig))
    deadline = time.monotonic() + timeout
    ready = 0
    while time.monotonic() < deadline:
        if not processes.alive(kwok_pid):
            raise processes.StartError(f"kwok exited:\n{processes.tail(kwok_log)}")
        ready = ready_count(core)
        if ready >= count:
            return
        time.sleep(0.25)
    raise TimeoutError(f"only {ready}/{count} simulated nodes became Ready within {timeout}s (is kwok running?)")
