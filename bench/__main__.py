"""python -m bench: the operator's rollout against the DaemonSet controller's own RollingUpdate, and the
Spiderpool pre-flight at scale.

Rollouts: same cluster, node count, pod-ready delay and maxUnavailable; runs alternate after an untimed warm-up
round of each kind. Prints medians, the ratio operator/native, the ideal (batches x ready delay), how fast a freed
slot is refilled (pod watch), the operator's API requests per node upgraded (audit log, as its own ServiceAccount),
and its peak RSS, also after adding many unrelated pods.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import urllib.request
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import yaml
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from localcluster import build, deployment, serviceaccount
from localcluster.cluster import ClusterConfig, LocalCluster
from localcluster.objects import api_client
from localcluster.processes import free_port

from bench import audit, crowd
from bench.peak import peak_rss_mib
from bench.preflight import preflight_bench
from bench.rollout import Rollouts, Run
from bench.stats import ratio_interval

OPERATOR_NAMESPACE, OPERATOR_SA = "cniupgrade-system", "cniupgrade"
OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_SA}"
POLICY = deployment.policy_documents(allowedImageRepositories="example.com/bench")  # the bench agent's images


def install_operator(cluster: LocalCluster) -> Path:
    """The CRD and the operator's RBAC as deploy/ ships them; returns a kubeconfig of its ServiceAccount."""
    kubectl = [str(cluster.binaries.path("kubectl")), f"--kubeconfig={cluster.kubeconfig}"]
    for path in deployment.MANIFESTS:
        if path.name != "policy.yaml":
            subprocess.run([*kubectl, "apply", "--server-side", "-f", str(path)], check=True, capture_output=True)
    subprocess.run([*kubectl, "apply", "--server-side", "-f", "-"], input=yaml.safe_dump_all(POLICY).encode(),
                   check=True, capture_output=True)
    subprocess.run([*kubectl, "wait", "--for=condition=Established", "crd/upgradeplans.cniupgrade.io",
                    "--timeout=60s"], check=True, capture_output=True)
    return serviceaccount.kubeconfig_for(cluster, OPERATOR_NAMESPACE, OPERATOR_SA, cluster.dir / "operator.kubeconfig")


def start_operator(kubeconfig: Path, log: Path, metrics_port: int, env: dict[str, str] | None = None
                   ) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "cniupgrade", "run", "--standalone", "--liveness=",
                                 f"--metrics-port={metrics_port}", "--log-format=json"],
                                env={**os.environ, **deployment.policy_env(POLICY), **(env or {}),
                                     "KUBECONFIG": str(kubeconfig)},
                                stdout=out,
                                stderr=subprocess.STDOUT)


@dataclass(frozen=True)
class Operated:
    """A local cluster with the operator running in it as its own ServiceAccount."""
    cluster: LocalCluster
    operator: subprocess.Popen
    metrics_port: int

    @property
    def api(self) -> client.ApiClient:
        return api_client(self.cluster.kubeconfig)

    def passes(self) -> float:
        return reconcile_passes(self.metrics_port)


@contextmanager
def operated_cluster(name: str, config: ClusterConfig) -> Iterator[Operated]:
    """Up, with the operator started; the operator stopped and the cluster down on the way out."""
    cluster = LocalCluster(name, build.ensure_built())
    cluster.up(config)
    metrics_port = free_port()
    operator = start_operator(install_operator(cluster), cluster.dir / "operator.log", metrics_port)
    try:
        yield Operated(cluster, operator, metrics_port)
    finally:
        operator.terminate()
        operator.wait(30)
        cluster.down()


def reconcile_passes(metrics_port: int) -> float:
    """Every plan's reconcile passes so far, from the operator's own metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    return sum(sample.value for family in text_string_to_metric_families(text)
               if family.name == "cniupgrade_reconcile_passes" for sample in family.samples
               if sample.name == "cniupgrade_reconcile_passes_total")


def pass_parts(metrics_port: int) -> dict[str, dict]:
    """The operator's reconcile passes by part (waited, observe, decide, act) so far: count, mean, and the
    histogram bucket holding the 95th percentile (an upper bound)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    family = next(f for f in text_string_to_metric_families(text) if f.name == "cniupgrade_reconcile_pass_seconds")
    parts: dict[str, dict] = {}
    for sample in family.samples:
        part = parts.setdefault(sample.labels["part"], {"buckets": []})
        if sample.name.endswith("_bucket"):
            part["buckets"].append((float(sample.labels["le"]), sample.value))
        else:
            part[sample.name.rsplit("_", 1)[1]] = sample.value
    summary = {}
    for name, part in parts.items():
        count = part.get("count", 0.0)
        p95 = next((le for le, below in sorted(part["buckets"]) if below >= 0.95 * count), float("inf"))
        summary[name] = {"count": int(count), "meanMs": round(1000 * part.get("sum", 0.0) / count, 1) if count else 0.0,
                         "p95AtMostMs": 1000 * p95}
    return summary


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else float("nan")


def requests_per_node(cluster: LocalCluster, runs: list[Run], nodes: int) -> dict:
    total: Counter = Counter()
    for run in runs:
        total += audit.requests_between(cluster.audit_log(), OPERATOR_USER, run.started_at, run.ended_at)
    per_node = {k: v / (nodes * len(runs)) for k, v in total.items()}
    return {"reads": per_node.get("read", 0.0), "writes": per_node.get("write", 0.0),
            "byVerb": {k: round(v, 3) for k, v in sorted(per_node.items()) if " " in k}}


def progress(run: Run, note: str = "") -> Run:
    rss, peak = run.operator_mib
    print(f"  {run.kind:16} {run.seconds:6.2f}s {note}  (operator RSS after it {rss:.0f} MiB, peak so far "
          f"{peak:.0f})", flush=True)
    return run


LARGE_CLUSTER = 1000  # above, node Leases last 10 minutes (ClusterConfig.node_lease_seconds)
# Above LARGE_CLUSTER kwok writes node statuses every 4 hours, not 10 minutes: 5000 nodes created together wrote
# ~8000 node updates in 5-minute bursts every 10 minutes, slowing whichever runs fell in one (the Leases keep the
# nodes Ready). A real kubelet writes its status only when it changes, or every 5 minutes, spread over its start.
QUIET_NODE_HEARTBEAT_SECONDS = 4 * 3600


def resolved(max_unavailable: str, nodes: int) -> int:
    """'10' or '10%' of the nodes (rounded down, at least 1), as the DaemonSet controller resolves it."""
    if max_unavailable.endswith("%"):
        return max(1, nodes * int(max_unavailable[:-1]) // 100)
    return int(max_unavailable)


def rollout_bench(nodes: int, max_unavailable: int, ready_ms: int, trials: int, crowd_pods: int,
                  taint: bool = True) -> dict:
    config = ClusterConfig(nodes=nodes, pod_ready_delay_ms=ready_ms, audit_users=(OPERATOR_USER,),
                           audit_node_writes=True, node_lease_seconds=40 if nodes <= LARGE_CLUSTER else 600,
                           node_heartbeat_seconds=None if nodes <= LARGE_CLUSTER else QUIET_NODE_HEARTBEAT_SECONDS)
    with operated_cluster("bench", config) as operated:
        cluster, operator, api = operated.cluster, operated.operator, operated.api
        # "bench": this process, i.e. the pod timeline of every run, and the floor's deleter in the floor's runs
        pids = {**cluster.state.pids, "operator": operator.pid, "bench": os.getpid()}
        rollouts = Rollouts(api, nodes, max_unavailable, pids, operated.passes, taint)
        # Untimed: the operator's first plan pays its start-up; each kind's first run warms the caches it uses.
        progress(rollouts.operator(canary=0), "(warm-up)")
        progress(rollouts.native(), "(warm-up)")
        progress(rollouts.floor(), "(warm-up)")
        native, floor, ours = [], [], []
        kinds = [(native, rollouts.native), (floor, rollouts.floor), (ours, lambda: rollouts.operator(canary=0))]
        orders = list(itertools.permutations(kinds))
        for trial in range(trials):  # alternate, each trial in another order, so drift and the run before hit all alike
            for runs, run in orders[trial % len(orders)]:
                runs.append(progress(run()))
        with_canary = progress(rollouts.operator(canary=1))
        rss = peak_rss_mib(operator.pid)
        parts = pass_parts(operated.metrics_port)
        crowded = None
        if crowd_pods:
            crowd.create(api, crowd_pods)
            crowded = progress(rollouts.operator(canary=0), f"(with {crowd_pods} unrelated pods)")
        crowded_rss = peak_rss_mib(operator.pid)
        requests = requests_per_node(cluster, ours, nodes)
        node_writes = [[r.kind, dict(audit.node_writes_between(cluster.audit_log(), r.started_at, r.ended_at))]
                       for r in rollouts.history]
    median_native = statistics.median(r.seconds for r in native)
    median_ours = statistics.median(r.seconds for r in ours)
    median_floor = statistics.median(r.seconds for r in floor)
    refill_native = [d for r in native for d in r.refill_delays]
    refill_ours = [d for r in ours for d in r.refill_delays]
    refill_floor = [d for r in floor for d in r.refill_delays]
    return {"nodes": nodes, "maxUnavailable": max_unavailable, "readyDelayMs": ready_ms, "trials": trials,
            "taintInFlight": taint,
            "native": [round(r.seconds, 2) for r in native], "operator": [round(r.seconds, 2) for r in ours],
            "nativeMedian": median_native, "operatorMedian": median_ours, "ratio": median_ours / median_native,
            "ratioInterval": ratio_interval([r.seconds for r in ours], [r.seconds for r in native]),
            "floorRatioInterval": ratio_interval([r.seconds for r in floor], [r.seconds for r in native]),
            "floor": [round(r.seconds, 2) for r in floor], "floorMedian": median_floor,
            "floorRatio": median_floor / median_native, "operatorOverFloor": median_ours / median_floor,
            "cycleFloor": statistics.median(r.cycle for r in floor),
            "cpuFloor": {k: statistics.median(r.cpu[k] for r in floor) for k in floor[0].cpu},
            "ideal": math.ceil(nodes / max_unavailable) * ready_ms / 1000, "operatorWithCanary": with_canary.seconds,
            "refillNative": [percentile(refill_native, 50), percentile(refill_native, 95)],
            "refillOperator": [percentile(refill_ours, 50), percentile(refill_ours, 95)],
            "refillFloor": [percentile(refill_floor, 50), percentile(refill_floor, 95)],
            "phasesNative": [round(statistics.median(r.phases[i] for r in native), 3) for i in range(3)],
            "phasesOperator": [round(statistics.median(r.phases[i] for r in ours), 3) for i in range(3)],
            "phasesFloor": [round(statistics.median(r.phases[i] for r in floor), 3) for i in range(3)],
            "inFlight": [statistics.median(r.in_flight for r in native), statistics.median(r.in_flight for r in ours)],
            "cycle": [statistics.median(r.cycle for r in native), statistics.median(r.cycle for r in ours)],
            "cycleSplit": {kind: [round(statistics.median(r.cycle_split[i] for r in runs) * 1000) for i in range(4)]
                           for kind, runs in (("native", native), ("floor", floor), ("operator", ours))},
            "cpuNative": {k: statistics.median(r.cpu[k] for r in native) for k in native[0].cpu},
            "cpuOperator": {k: statistics.median(r.cpu[k] for r in ours) for k in ours[0].cpu},
            "requestsPerNode": requests, "passesPerNode": statistics.median(r.passes for r in ours) / nodes,
            "peakRssMiB": rss, "crowdPods": crowd_pods, "passParts": parts,
            "operatorMiBAfterRuns": [[r.kind, *r.operator_mib] for r in rollouts.history],
            "nodeWritesPerRun": node_writes,
            "crowdedRun": crowded.seconds if crowded else None, "peakRssWithCrowdMiB": crowded_rss}


def print_rollout(r: dict) -> None:
    print(f"nodes={r['nodes']} maxUnavailable={r['maxUnavailable']} ready={r['readyDelayMs']}ms trials={r['trials']} "
          f"taintInFlight={r.get('taintInFlight', False)}")
    print(f"  native RollingUpdate  median {r['nativeMedian']:.2f}s  {r['native']}")
    print(f"  operator (no canary)  median {r['operatorMedian']:.2f}s  {r['operator']}")
    low, high = r["ratioInterval"]
    print(f"  ratio operator/native {r['ratio']:.3f} (95% bootstrap interval {low:.3f}-{high:.3f})   "
          f"ideal (batches x ready delay) {r['ideal']:.2f}s")
    print(f"  floor: minimal OnDelete deleter (no checks, no status) median {r['floorMedian']:.2f}s  {r['floor']}; "
          f"floor/native {r['floorRatio']:.3f} ({r['floorRatioInterval'][0]:.3f}-{r['floorRatioInterval'][1]:.3f}), "
          f"operator/floor {r['operatorOverFloor']:.3f}; "
          f"its per-node cycle {r['cycleFloor'] * 1000:.0f} ms; its CPU {r['cpuFloor']}")
    print(f"  operator with a 1-node canary {r['operatorWithCanary']:.2f}s")
    print(f"  median phases (start -> first deletion -> last new pod Ready -> done): native "
          f"{r['phasesNative']}, floor {r['phasesFloor']}, operator {r['phasesOperator']}")
    print(f"  CPU seconds per run, native: {r['cpuNative']}")
    print(f"  CPU seconds per run, operator: {r['cpuOperator']}")
    print(f"  mean nodes in flight: native {r['inFlight'][0]:.2f}, operator {r['inFlight'][1]:.2f}; mean deletion -> "
          f"Ready per node: native {r['cycle'][0] * 1000:.0f} ms, operator {r['cycle'][1] * 1000:.0f} ms")
    print("  per-node cycle, median ms (deletion -> old pod gone -> new pod created -> bound -> Ready): "
          + ", ".join(f"{kind} {split}" for kind, split in r["cycleSplit"].items()))
    print(f"  freed slot -> next old pod deleted: operator p50 {r['refillOperator'][0] * 1000:.0f} ms, "
          f"p95 {r['refillOperator'][1] * 1000:.0f} ms (native p50 {r['refillNative'][0] * 1000:.0f} ms, "
          f"p95 {r['refillNative'][1] * 1000:.0f} ms", end="")
    if "refillFloor" in r:  # the least an outside driver refills in on this control plane
        print(f"; floor p50 {r['refillFloor'][0] * 1000:.0f} ms, p95 {r['refillFloor'][1] * 1000:.0f} ms", end="")
    print(")")
    q = r["requestsPerNode"]
    print(f"  operator API requests per node upgraded: {q['writes']:.2f} writes, {q['reads']:.2f} reads; "
          f"reconcile passes per node {r['passesPerNode']:.2f}")
    print(f"    {q['byVerb']}")
    if "passParts" in r:
        print("  operator pass parts (all its runs, warm-up included): " + "; ".join(
            f"{name} n={p['count']} mean {p['meanMs']} ms p95 <= {p['p95AtMostMs']:g} ms"
            for name, p in r["passParts"].items()))
    if "nodeWritesPerRun" in r:  # a run slowed by the control plane: did someone write nodes meanwhile?
        print("  node writes during each run, by user: " + "; ".join(
            f"{kind} {sum(users.values())} {users}" for kind, users in r["nodeWritesPerRun"]))
    print(f"  operator peak RSS {r['peakRssMiB']:.0f} MiB", end="")
    if r["crowdPods"]:
        print(f"; after {r['crowdPods']} unrelated pods and one more rollout ({r['crowdedRun']:.2f}s) "
              f"{r['peakRssWithCrowdMiB']:.0f} MiB")
    else:
        print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--nodes", default="100", help="comma-separated node counts, e.g. 100,1000")
    parser.add_argument("--max-unavailable", default="10", help="nodes at once: a count, or a share like 10%%")
    parser.add_argument("--ready-delay-ms", type=int, default=500)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--crowd", type=int, default=0, help="unrelated pods added before a last rollout")
    parser.add_argument("--preflight", default="", help="also time the Spiderpool pre-flight at these "
                        "SpiderEndpoint counts (a tenth as many pools), e.g. 10000,100000")
    parser.add_argument("--taint-in-flight", choices=("on", "off"), default="on",
                        help="the plans' spec.rollout.taintInFlight (on: two node patches per node)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    results = []
    for count in (int(n) for n in args.nodes.split(",") if n):
        results.append(rollout_bench(count, resolved(args.max_unavailable, count), args.ready_delay_ms, args.trials,
                                     args.crowd, args.taint_in_flight == "on"))
        print_rollout(results[-1])
    if args.preflight:
        scales = preflight_bench([int(n) for n in args.preflight.split(",")])
        for r in scales:
            print(f"pre-flight over {r['endpoints']} SpiderEndpoints and {r['pools']} SpiderIPPools: "
                  f"{r['seconds']:.1f}s, peak RSS {r['peakRssMiB']:.0f} MiB (objects added in "
                  f"{r['createdInSeconds']:.0f}s)")
            for line in r["findings"]:
                print(f"    {line}")
        if len(scales) > 1:
            print(f"  peak RSS ratio largest/smallest scale: {scales[-1]['peakRssMiB'] / scales[0]['peakRssMiB']:.2f}")
        results.append({"preflight": scales})
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
