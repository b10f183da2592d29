"""`python -m bench.chart`: the chart path's overhead against the image path, on the same rollout.

On one cluster, each trial installs the test chart's 0.9.5 (simulated/charts) in a fresh namespace and upgrades
it to 1.0.0, once by patching images and once through the chart, alternating; each timed from the plan's creation
to Succeeded (no pre-pull, no canary, maxUnavailable 10, as `make bench`). The chart path adds helm's reads and
render in the pre-flight and two `helm upgrade`s."""
from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

from kubernetes import client

from bench import audit
from bench.__main__ import OPERATOR_USER, install_operator, start_operator
from cniupgrade.kube.helm_cli import HelmCli
from localcluster import build
from localcluster.cluster import ClusterConfig, LocalCluster
from localcluster.objects import api_client
from localcluster.processes import free_port
from localcluster.waiting import wait_for
from simulated.charts import LoopbackRepository
from simulated.spiderpool.seed import grant_helm_release_reader

ACCOUNT = "upgrader"


def install(api: client.ApiClient, helm: HelmCli, repo: str, namespace: str, nodes: int) -> None:
    client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
    helm.upgrade("spiderpool", namespace, "spiderpool", "0.9.5", {}, repo=repo, install=True)
    apps = client.AppsV1Api(api)
    wait_for(lambda: (apps.read_namespaced_daemon_set("spiderpool-agent", namespace).status.number_ready or 0)
             == nodes, 300, "the agent everywhere", interval=0.5)
    grant_helm_release_reader(api, namespace)
    client.CoreV1Api(api).create_namespaced_service_account(namespace, {"metadata": {"name": ACCOUNT}})
    client.RbacAuthorizationV1Api(api).create_cluster_role_binding({
        "metadata": {"name": f"{namespace}-{ACCOUNT}"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": namespace}]})


def upgrade(api: client.ApiClient, namespace: str, repo: str | None) -> tuple[float, float, float]:
    """Seconds from the plan's creation to Succeeded, and the wall-clock start and end (for the audit log)."""
    custom = client.CustomObjectsApi(api)
    spec = {"plugin": "spiderpool", "targetVersion": "1.0.0", "prePull": {"enabled": False},
            "rollout": {"maxUnavailable": 10, "canary": {"count": 0}, "nodeTimeoutSeconds": 600}}
    if repo:
        spec.update(serviceAccountName=ACCOUNT, chart={"repository": repo})
    started, wall_start = time.monotonic(), time.time()
    custom.create_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans", {
        "apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan", "metadata": {"name": "bench"}, "spec": spec})

    def phase():
        status = custom.get_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans",
                                                     "bench").get("status") or {}
        return status.get("phase") in ("Succeeded", "Failed", "Preflight") and status
    status = wait_for(phase, 900, f"the plan in {namespace}", interval=0.1)
    if status["phase"] != "Succeeded":
        raise RuntimeError(f"{namespace}: {status.get('conditions')}")
    return time.monotonic() - started, wall_start, time.time()


def remove(api: client.ApiClient, namespace: str) -> None:
    custom = client.CustomObjectsApi(api)
    custom.delete_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans", "bench")
    wait_for(lambda: not custom.list_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace,
                                                              "upgradeplans")["items"], 60, "the plan gone")
    rbac = client.RbacAuthorizationV1Api(api)
    for name in (f"{namespace}-{ACCOUNT}", f"spiderpool-{namespace}"):
        rbac.delete_cluster_role_binding(name)
    rbac.delete_cluster_role(f"spiderpool-{namespace}")
    client.CoreV1Api(api).delete_namespace(namespace)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chart", description=__doc__)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--trials", type=int, default=2)
    args = parser.parse_args(argv)
    helm_binary = build.ensure_helm()
    cluster = LocalCluster("bench-chart", build.ensure_built())
    cluster.up(ClusterConfig(nodes=args.nodes, pod_ready_delay_ms=500, audit_users=(OPERATOR_USER,)))
    kubeconfig = install_operator(cluster)
    operator = start_operator(kubeconfig, cluster.dir / "operator.log", free_port(), {"HELM_BINARY": str(helm_binary)})
    repo = LoopbackRepository(cluster.dir / "charts", helm_binary)
    times: dict[str, list[float]] = {"images": [], "chart": []}
    requests: dict[str, Counter] = {"images": Counter(), "chart": Counter()}
    try:
        api, helm = api_client(cluster.kubeconfig), HelmCli(helm_binary, cluster.kubeconfig)
        for trial in range(args.trials + 1):  # the first round is a warm-up
            for mode in ("images", "chart"):
                namespace = f"{mode}-{trial}"
                install(api, helm, repo.url, namespace, args.nodes)
                seconds, start, end = upgrade(api, namespace, repo.url if mode == "chart" else None)
                print(f"  {mode:7} {seconds:6.2f}s{' (warm-up)' if trial == 0 else ''}", flush=True)
                if trial:
                    times[mode].append(seconds)
                    # the operator's requests, helm's included (it runs as the operator, impersonating the plan's
                    # ServiceAccount); the audit log is written when a request completes: read after the run
                    requests[mode] += audit.requests_between(cluster.audit_log(), OPERATOR_USER, start, end)
                remove(api, namespace)
    finally:
        repo.stop()
        operator.terminate()
        operator.wait(30)
        cluster.down()
    images, chart = statistics.median(times["images"]), statistics.median(times["chart"])
    print(f"nodes={args.nodes} maxUnavailable=10 ready=500ms trials={args.trials}")
    shown = {mode: [round(t, 2) for t in runs] for mode, runs in times.items()}
    print(f"  image path median {images:.2f}s {shown['images']}; chart path median {chart:.2f}s {shown['chart']}; "
          f"chart/images {chart / images:.3f} (+{chart - images:.2f}s)")
    for mode, counted in requests.items():
        per_node = {k: v / (args.nodes * args.trials) for k, v in counted.items()}
        print(f"  {mode:6} path: {per_node.get('write', 0):.2f} writes and {per_node.get('read', 0):.2f} reads per node; "
              f"writes by verb {dict(sorted((k, round(v, 3)) for k, v in per_node.items() if ' ' in k and k.split()[0] not in audit.READ_VERBS))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
