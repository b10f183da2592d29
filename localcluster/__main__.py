"""python -m localcluster {build|up|down|status|kubeconfig|sa-kubeconfig}"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from localcluster import build
from localcluster.cluster import COMPONENTS, ClusterConfig, LocalCluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcluster", description=__doc__)
    parser.add_argument("--name", default="dev", help="cluster name (state under .localcluster/NAME)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build (or find cached) control-plane binaries and the helm CLI")
    up = sub.add_parser("up", help="start a fresh cluster with simulated nodes")
    up.add_argument("--nodes", type=int, default=ClusterConfig.nodes)
    up.add_argument("--pod-ready-delay-ms", type=int, default=ClusterConfig.pod_ready_delay_ms)
    up.add_argument("--pod-ready-jitter-ms", type=int, default=ClusterConfig.pod_ready_jitter_ms)
    sub.add_parser("down", help="stop the cluster's processes")
    sub.add_parser("status", help="show which components run")
    sub.add_parser("kubeconfig", help="print the admin kubeconfig's path")
    sa = sub.add_parser("sa-kubeconfig", help="write a kubeconfig holding a ServiceAccount's token")
    sa.add_argument("--namespace", required=True)
    sa.add_argument("--service-account", required=True)
    sa.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    try:
        binaries = build.ensure_built()
        helm = build.ensure_helm() if args.command == "build" else None
    except build.BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.command == "build":
        print(binaries.root)
        print(helm)
        return 0
    cluster = LocalCluster(args.name, binaries)
    if args.command == "up":
        cluster.up(ClusterConfig(nodes=args.nodes, pod_ready_delay_ms=args.pod_ready_delay_ms,
                                 pod_ready_jitter_ms=args.pod_ready_jitter_ms))
    elif args.command == "down":
        cluster.down()
        print(f"cluster '{args.name}' stopped")
    elif args.command == "status":
        running = cluster.running()
        for component in COMPONENTS:
            print(f"{component:26} {'running' if running.get(component) else 'stopped'}")
        return 0 if running and all(running.values()) else 3
    elif args.command == "kubeconfig":
        print(cluster.kubeconfig)
    elif args.command == "sa-kubeconfig":
        from localcluster import serviceaccount
        print(serviceaccount.kubeconfig_for(cluster, args.namespace, args.service_account, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
