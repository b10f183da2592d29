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

from cniupgrade.kube.helm_cli import HelmCli
from demo import live
from localcluster import build, deployment, serviceaccount
from localcluster.cluster import ClusterConfig, LocalCluster
from localcluster.objects import api_client, apply
from localcluster.processes import free_port
from localcluster.waiting import wait_for
from simulated.charts import LoopbackRepository

HERE = Path(__file__).parent
REPO = HERE.parent
CNI_NAMESPACE = "democni-system"
PLAN_FILE = REPO / "examples" / "generic-upgradeplan.yaml"
DEMO_IMAGES = "registry.example.com/democni"
CHART_PLAN_FILE = REPO / "examples" / "spiderpool-chart-upgradeplan.yaml"
CHART_NAMESPACE, CHART_ACCOUNT = "kube-system", "spiderpool-upgrader"


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


def install_chart_spiderpool(cluster: LocalCluster, api: client.ApiClient, nodes: int) -> tuple[str, object]:
    """Spiderpool 0.9.5 installed with helm from our Spiderpool-shaped test chart (served on loopback), and the
    account the chart plan runs helm as; returns the repository's URL and the server to stop."""
    helm_binary = build.ensure_helm()
    repo = LoopbackRepository(cluster.dir / "charts", helm_binary)
    HelmCli(helm_binary, cluster.kubeconfig).upgrade("spiderpool", CHART_NAMESPACE, "spiderpool", "0.9.5",
                                                     {"ipam": {"enableSpiderSubnet": True}}, repo=repo.url,
                                                     install=True)
    apps = client.AppsV1Api(api)
    wait_for(lambda: (apps.read_namespaced_daemon_set("spiderpool-agent", CHART_NAMESPACE).status.number_ready or 0)
             == nodes, 120, "spiderpool-agent on every node", interval=0.5)
    print(f"  helm release {CHART_NAMESPACE}/spiderpool at spiderpool-0.9.5, agent Ready on {nodes}/{nodes} nodes")
    client.CoreV1Api(api).create_namespaced_service_account(CHART_NAMESPACE, {"metadata": {"name": CHART_ACCOUNT}})
    client.RbacAuthorizationV1Api(api).create_cluster_role_binding({  # a CNI chart's rights: its ClusterRoles too
        "metadata": {"name": CHART_ACCOUNT},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": CHART_ACCOUNT, "namespace": CHART_NAMESPACE}]})
    return repo.url, repo


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
                            env={**os.environ, **deployment.policy_env(policy), "HELM_BINARY": str(build.ensure_helm()),
                                 "KUBECONFIG": str(kubeconfig)},
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
    parser.add_argument("--chart", action="store_true",
                        help="the chart path: Spiderpool installed with helm, upgraded through its chart")
    args = parser.parse_args(argv)

    binaries = build.ensure_built()
    cluster = LocalCluster("demo", binaries)
    print(f"==> starting a local control plane with {args.nodes} simulated nodes")
    cluster.up(ClusterConfig(nodes=args.nodes, pod_ready_delay_ms=1200, pod_ready_jitter_ms=800))
    api = api_client(cluster.kubeconfig)
    operator = repo = None
    try:
        plan_file = CHART_PLAN_FILE if args.chart else PLAN_FILE
        plan = yaml.safe_load(plan_file.read_text())
        if args.chart:
            print("==> installing Spiderpool 0.9.5 with helm (a Spiderpool-shaped test chart, served on loopback)")
            url, repo = install_chart_spiderpool(cluster, api, args.nodes)
            plan["spec"]["chart"]["repository"] = url
        else:
            print("==> installing a simulated CNI (democni v1.4.2)")
            print("  " + ", ".join(apply_file(api, HERE / "simulated-cni.yaml")))
            wait_cni_ready(api, args.nodes)
        print("==> starting the operator as ServiceAccount cniupgrade-system/cniupgrade (RBAC from deploy/)")
        operator = start_operator(cluster, api)
        print(f"==> applying {plan_file.relative_to(REPO)}" + (f" (repository {url})" if args.chart else ""))
        time.sleep(2)
        apply(api, plan)
        read_status, read_events = plan_reader(api, plan["metadata"]["namespace"], plan["metadata"]["name"])
        final = live.follow(plan["metadata"]["name"], read_status, read_events,
                            done=lambda s: s.get("phase") in ("Succeeded", "Failed", "RolledBack"), timeout=600)
        kubectl = [str(binaries.path("kubectl")), f"--kubeconfig={cluster.kubeconfig}"]
        print("\n==> kubectl get upgradeplans -A -o wide")
        subprocess.run([*kubectl, "get", "upgradeplans", "-A", "-o", "wide"], check=False)
        namespace, agent = (CHART_NAMESPACE, "spiderpool-agent") if args.chart else (CNI_NAMESPACE, "democni-agent")
        print(f"\n==> kubectl -n {namespace} get daemonset {agent}")
        subprocess.run([*kubectl, "-n", namespace, "get", "daemonset", agent, "-o", "wide"], check=False)
        if args.chart:
            print(f"\n==> helm history spiderpool -n {CHART_NAMESPACE}")
            subprocess.run([str(build.ensure_helm()), f"--kubeconfig={cluster.kubeconfig}", "history", "spiderpool",
                            "-n", CHART_NAMESPACE], check=False)
        return 0 if final.get("phase") == "Succeeded" else 1
    finally:
        if operator is not None:
            operator.terminate()
            operator.wait(30)
        if repo is not None:
            repo.stop()
        if args.keep:
            print(f"\nthe cluster keeps running: export KUBECONFIG={cluster.kubeconfig}")
            print("stop it with: .venv/bin/python -m localcluster --name demo down")
        else:
            cluster.down()
            print("\n==> demo cluster stopped (make demo KEEP=1 keeps it running)")


if __name__ == "__main__":
    sys.exit(main())
