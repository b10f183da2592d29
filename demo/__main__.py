"""python -m demo: bring up the local cluster and install a simulated CNI."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml
from kubernetes import client

from localcluster import build
from localcluster.cluster import ClusterConfig, LocalCluster
from localcluster.objects import api_client, apply

HERE = Path(__file__).parent
CNI_NAMESPACE = "democni-system"


def install_simulated_cni(api: client.ApiClient) -> list[str]:
    created = []
    for doc in yaml.safe_load_all((HERE / "simulated-cni.yaml").read_text()):
        apply(api, doc)
        created.append(f"{doc['kind']}/{doc['metadata']['name']}")
    return created


def wait_cni_ready(api: client.ApiClient, nodes: int, timeout: float = 120) -> None:
    apps = client.AppsV1Api(api)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ds = apps.read_namespaced_daemon_set("democni-agent", CNI_NAMESPACE).status
        dep = apps.read_namespaced_deployment("democni-controller", CNI_NAMESPACE).status
        print(f"\r  agent pods ready {ds.number_ready or 0}/{nodes}, controller ready {dep.ready_replicas or 0}/2",
              end="", flush=True)
        if (ds.number_ready or 0) == nodes and (dep.ready_replicas or 0) == 2:
            print()
            return
        time.sleep(0.5)
    raise TimeoutError("the simulated CNI did not become ready")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--nodes", type=int, default=20)
    args = parser.parse_args(argv)

    binaries = build.ensure_built()
    cluster = LocalCluster("demo", binaries)
    print(f"==> starting a local control plane with {args.nodes} simulated nodes")
    cluster.up(ClusterConfig(nodes=args.nodes, pod_ready_delay_ms=800, pod_ready_jitter_ms=700))
    api = api_client(cluster.kubeconfig)
    print("==> installing a simulated CNI (democni v1.4.2)")
    for name in install_simulated_cni(api):
        print(f"  created {name}")
    wait_cni_ready(api, args.nodes)
    kubectl = binaries.path("kubectl")
    print("\n==> the cluster keeps running; look around with:")
    print(f"  export KUBECONFIG={cluster.kubeconfig}")
    print(f"  {kubectl} get nodes,pods -A -o wide")
    print("  stop it with: .venv/bin/python -m localcluster --name demo down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
