"""python -m demo: a local cluster with simulated nodes and a simulated CNI, the operator under its own
ServiceAccount, and an UpgradePlan followed live to the end."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml
from kubernetes import client

from demo import live
from localcluster import build, deployment, serviceaccount
from localcluster.cluster import ClusterConfig, LocalCluster
from localcluster.objects import api_client, apply
from localcluster.processes import free_port

HERE = Path(__file__).parent
REPO = HERE.parent
CNI_NAMESPACE = "democni-system"
PLAN_FILE = REPO / "examples" / "generic-upgradeplan.yaml"
DEMO_IMAGES = "registry.example.com/democni"


def apply_file(api: client.ApiClient, path: Path) -> list[str]:
    applied = []
    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            apply(api, doc)
            applied.append(f"{doc['kind']}/{doc['metadata']['name']}")
    return applied


def wait_cni_ready(api: client.ApiClient, nodes: int, timeout: float = 120) -> None:
    apps = client.AppsV1Api(api)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ds = apps.read_namespaced_daemon_set("democni-agent", CNI_NAMESPACE).status
        if (ds.number_ready or 0) == nodes:
            print(f"  democni-agent Ready on {nodes}/{nodes} nodes")
            return
        time.sleep(0.5)
    raise TimeoutError("the simulated CNI did not become ready")


def start_operator(cluster: LocalCluster, api: client.ApiClient) -> subprocess.Popen:
    for path in deployment.MANIFESTS:
        if path.name != "policy.yaml":
            apply_file(api, path)
    # The admin's policy: plans may roll out democni's images (the generic profile has no vendor repositories).
    policy = deployment.policy_documents(allowedImageRepositories=DEMO_IMAGES)
    for doc in policy:
        apply(api, doc)
    time.sleep(1)  # the CRD becomes Established
    kubeconfig = serviceaccount.kubeconfig_for(cluster, "cniupgrade-system", "cniupgrade",
                                               cluster.dir / "operator.kubeconfig")
    log = open(cluster.dir / "operator.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "cniupgrade", "run", "--standalone", "--liveness=",
                             f"--metrics-port={free_port()}"],
                            env={**os.environ, **deployment.policy_env(policy), "KUBECONFIG": str(kubeconfig)},
                            stdout=log, stderr=subprocess.STDOUT)


def plan_reader(api: client.ApiClient, namespace: str, name: str):
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)

    def status() -> dict:
        return custom.get_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans",
                                                   name).get("status") or {}

    def events() -> list[str]:
        items = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
        items.sort(key=lambda e: int(e.metadata.resource_version))  # creation order, finer than timestamps
        return [f"{e.reason}: {e.message}" for e in items]

    return status, events


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="leave the cluster running at the end")
    args = parser.parse_args(argv)

    binaries = build.ensure_built()
    cluster = LocalCluster("demo", binaries)
    print(f"==> starting a local control plane with {args.nodes} simulated nodes")
    cluster.up(ClusterConfig(nodes=args.nodes, pod_ready_delay_ms=1200, pod_ready_jitter_ms=800))
    api = api_client(cluster.kubeconfig)
    operator = None
    try:
        print("==> installing a simulated CNI (democni v1.4.2)")
        print("  " + ", ".join(apply_file(api, HERE / "simulated-cni.yaml")))
        wait_cni_ready(api, args.nodes)
        print("==> starting the operator as ServiceAccount cniupgrade-system/cniupgrade (RBAC from deploy/)")
        operator = start_operator(cluster, api)
        plan = yaml.safe_load(PLAN_FILE.read_text())
        print(f"==> applying {PLAN_FILE.relative_to(REPO)}")
        time.sleep(2)
        apply(api, plan)
        read_status, read_events = plan_reader(api, plan["metadata"]["namespace"], plan["metadata"]["name"])
        final = live.follow(plan["metadata"]["name"], read_status, read_events,
                            done=lambda s: s.get("phase") in ("Succeeded", "Failed", "RolledBack"), timeout=600)
        kubectl = [str(binaries.path("kubectl")), f"--kubeconfig={cluster.kubeconfig}"]
        print("\n==> kubectl get upgradeplans -A -o wide")
        subprocess.run([*kubectl, "get", "upgradeplans", "-A", "-o", "wide"], check=False)
        print("\n==> kubectl -n democni-system get daemonset democni-agent")
        subprocess.run([*kubectl, "-n", CNI_NAMESPACE, "get", "daemonset", "democni-agent", "-o", "wide"], check=False)
        return 0 if final.get("phase") == "Succeeded" else 1
    finally:
        if operator is not None:
            operator.terminate()
            operator.wait(30)
        if args.keep:
            print(f"\nthe cluster keeps running: export KUBECONFIG={cluster.kubeconfig}")
            print("stop it with: .venv/bin/python -m localcluster --name demo down")
        else:
            cluster.down()
            print("\n==> demo cluster stopped (make demo KEEP=1 keeps it running)")


if __name__ == "__main__":
    sys.exit(main())
