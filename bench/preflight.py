"""The Spiderpool pre-flight over many SpiderEndpoints and SpiderIPPools: time and peak RSS of
`cniupgrade plan` (every check of a 0.3.5 -> 0.9.5 upgrade applies), at two scales, to see memory stay flat."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from kubernetes import client

from bench import peak
from localcluster.cluster import LocalCluster
from simulated.spiderpool import seed

GROUP, VERSION = seed.GROUP, seed.VERSION
NAMESPACE = "kube-system"
IPS_PER_POOL = 10


def install_spiderpool(api: client.ApiClient) -> None:
    """CRDs, a 0.3.5 helm release, the agent and the controller: what the reader looks for."""
    seed.install_crds(api)
    client.CoreV1Api(api).create_namespaced_secret(NAMESPACE, seed.helm_secret(NAMESPACE, "0.3.5", {}))
    client.AppsV1Api(api).create_namespaced_daemon_set(NAMESPACE, seed.agent(NAMESPACE))
    client.AppsV1Api(api).create_namespaced_deployment(NAMESPACE, seed.controller(NAMESPACE, 1))


def ip(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def add_objects(api: client.ApiClient, pools: range, endpoints: range, workers: int = 32) -> None:
    """Pools with IPS_PER_POOL allocated IPs each, endpoints with one IP each; one endpoint in 10,000 reuses
    another's IP (so the duplicate-IP check has something to find)."""
    custom = client.CustomObjectsApi(api)
    namespaces = {f"sp-{i // 10000}" for i in endpoints}
    for namespace in namespaces:
        try:
            client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
        except client.ApiException as exc:
            if exc.status != 409:
                raise

    def pool(i: int) -> None:
        name = f"pool-{i:06d}"
        custom.create_cluster_custom_object(GROUP, VERSION, "spiderippools", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "SpiderIPPool", "metadata": {"name": name},
            "spec": {"ipVersion": 4, "subnet": "10.0.0.0/8"}}, _preload_content=False)
        allocated = {ip(1_000_000 + i * IPS_PER_POOL + k): {"pod": f"pods/p-{i}-{k}", "podUid": f"{i}-{k}"}
                     for k in range(IPS_PER_POOL)}
        custom.patch_cluster_custom_object_status(GROUP, VERSION, "spiderippools", name, {"status": {
            "allocatedIPs": json.dumps(allocated), "allocatedIPCount": IPS_PER_POOL}}, _preload_content=False)

    def endpoint(i: int) -> None:
        address = ip(i - 1 if i % 10000 == 9999 else i)
        custom.create_namespaced_custom_object(GROUP, VERSION, f"sp-{i // 10000}", "spiderendpoints", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "SpiderEndpoint", "metadata": {"name": f"web-{i:06d}"},
            "status": {"ownerControllerType": "None" if i % 1000 == 0 else "Deployment",
                       "ownerControllerName": "web", "current": {
                           "uid": str(i), "node": "node-0000", "ips": [{"interface": "eth0", "ipv4": f"{address}/8"}]}}},
            _preload_content=False)

    with ThreadPoolExecutor(workers) as pool_runner:
        list(pool_runner.map(pool, pools, chunksize=32))
        list(pool_runner.map(endpoint, endpoints, chunksize=64))


def measure_plan(cluster: LocalCluster) -> tuple[float, float, str]:
    """Seconds and peak RSS (MiB) of `cniupgrade plan` for a 0.3.5 -> 0.9.5 Spiderpool plan, and its output."""
    plan = {"apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan",
            "metadata": {"name": "sp", "namespace": NAMESPACE},
            "spec": {"plugin": "spiderpool", "targetVersion": "0.9.5", "namespace": NAMESPACE}}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(plan, f)
    started = time.monotonic()
    process = subprocess.run([sys.executable, "-m", "bench.peak", "cniupgrade", "plan", "-f", f.name],
                             env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}, cwd=peak.REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    Path(f.name).unlink()
    output, _, last = process.stdout.decode().rstrip("\n").rpartition("\n")
    if process.returncode != 0 or not last.startswith(peak.MARKER):
        raise RuntimeError(f"cniupgrade plan failed:\n{output}\n{last}")
    return seconds, float(last.split()[1]), output


def preflight_bench(scales: list[int]) -> list[dict]:
    """At each scale (SpiderEndpoints; a tenth as many pools), objects are added to reach it, then measured."""
    from localcluster import build
    from localcluster.cluster import ClusterConfig
    from localcluster.objects import api_client

    cluster = LocalCluster("bench-preflight", build.ensure_built())
    cluster.up(ClusterConfig(nodes=3))
    results = []
    try:
        api = api_client(cluster.kubeconfig)
        install_spiderpool(api)
        have = 0
        for endpoints in sorted(scales):
            started = time.monotonic()
            add_objects(api, range(have // 10, endpoints // 10), range(have, endpoints))
            created = time.monotonic() - started
            have = endpoints
            seconds, rss, output = measure_plan(cluster)
            found = [line.strip() for line in output.splitlines() if "spiderpool.duplicate-ips" in line
                     or "spiderpool.endpoint-owner-type" in line]
            results.append({"endpoints": endpoints, "pools": endpoints // 10, "seconds": seconds, "peakRssMiB": rss,
                            "createdInSeconds": created, "findings": found})
    finally:
        cluster.down()
    return results
