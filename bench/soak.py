"""python -m bench.soak: many plans one after another in one operator process; its RSS, threads and open
connections to the API server (its watches) after each plan must stay flat.

Each plan rolls a fresh agent DaemonSet in a namespace of its own (with a 1-node canary), then the namespace goes
with its plan: what the operator keeps per plan must go too.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from localcluster.cluster import ClusterConfig

from bench.__main__ import operated_cluster
from bench.peak import proc_status
from bench.rollout import Rollouts

ESTABLISHED = "01"


def connections_to(pid: int, port: int) -> int:
    """The process's established TCP connections to `port` (its sockets, matched in the TCP tables)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            remote_port, state, inode = int(fields[2].rsplit(":", 1)[1], 16), fields[3], fields[9]
            count += remote_port == port and state == ESTABLISHED and inode in inodes
    return count


def soak(plans: int, nodes: int, max_unavailable: int, ready_ms: int) -> list[dict]:
    samples = []
    with operated_cluster("soak", ClusterConfig(nodes=nodes, pod_ready_delay_ms=ready_ms)) as operated:
        cluster, pid = operated.cluster, operated.operator.pid
        apiserver_port = cluster.state.ports["kube-apiserver"]
        rollouts = Rollouts(operated.api, nodes, max_unavailable,
                            {**cluster.state.pids, "operator": pid, "bench": os.getpid()}, operated.passes)
        for index in range(1, plans + 1):
            run = rollouts.operator(canary=1)
            sample = {"plan": index, "seconds": round(run.seconds, 2),
                      "rssMiB": round(proc_status(pid, "VmRSS") / 1024, 1), "threads": proc_status(pid, "Threads"),
                      "apiConnections": connections_to(pid, apiserver_port)}
            samples.append(sample)
            print(f"  plan {index:3d}: {sample['seconds']:6.2f}s  RSS {sample['rssMiB']:6.1f} MiB  threads "
                  f"{sample['threads']:3d}  connections to the API server {sample['apiConnections']:3d}", flush=True)
    return samples


def summary(samples: list[dict]) -> str:
    """First plan, the plan after the warm-up (the 5th), and the last; growth from the 5th to the last."""
    settled, last = samples[min(4, len(samples) - 1)], samples[-1]
    return (f"after plan {settled['plan']} -> after plan {last['plan']}: RSS {settled['rssMiB']} -> {last['rssMiB']} "
            f"MiB ({last['rssMiB'] - settled['rssMiB']:+.1f}), threads {settled['threads']} -> {last['threads']}, "
            f"connections to the API server {settled['apiConnections']} -> {last['apiConnections']}; "
            f"rollout {settled['seconds']}s -> {last['seconds']}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--plans", type=int, default=24)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--max-unavailable", type=int, default=5)
    parser.add_argument("--ready-delay-ms", type=int, default=500)
    args = parser.parse_args(argv)
    samples = soak(args.plans, args.nodes, args.max_unavailable, args.ready_delay_ms)
    print(summary(samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
