"""Many unrelated pods (kept Pending by a scheduler name no scheduler serves, so they cost the simulated
nodes nothing): the operator's caches must not hold them."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from kubernetes import client

NAMESPACE = "crowd"


def create(api: client.ApiClient, count: int, workers: int = 32) -> None:
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": NAMESPACE}})

    def one(i: int) -> None:
        core.create_namespaced_pod(NAMESPACE, {
            "metadata": {"name": f"app-{i:06d}", "labels": {"app": f"app-{i % 500}", "tier": "web"}},
            "spec": {"schedulerName": "nobody", "containers": [
                {"name": "app", "image": "example.com/app:1", "ports": [{"containerPort": 8080}],
                 "env": [{"name": "ROLE", "value": "web"}]}]}}, _preload_content=False)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(count), chunksize=64))
