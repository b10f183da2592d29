"""python -m bench: the operator's rollout against the DaemonSet controller's own RollingUpdate.

Same cluster, same node count, same pod-ready delay, same maxUnavailable; runs alternate, several times.
Prints medians, the ratio operator/native, the ideal (batches x ready delay), the gap between a batch passing
and the next batch's first pod deletion (from the operator's JSON log), and the operator's peak RSS.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from kubernetes import client

from localcluster import build
from localcluster.cluster import ClusterConfig, LocalCluster
from localcluster.objects import api_client
from localcluster.processes import free_port

REPO = Path(__file__).resolve().parent.parent
LABELS = {"app": "bench-agent"}


def daemonset(max_unavailable: int) -> dict:
    return {"metadata": {"name": "agent"}, "spec": {
        "selector": {"matchLabels": LABELS},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable,
                                                                      "maxSurge": 0}},
        "template": {"metadata": {"labels": LABELS}, "spec": {
            "hostNetwork": True, "tolerations": [{"operator": "Exists"}],
            "containers": [{"name": "agent", "image": "example.com/bench/agent:v1"}]}}}}


def wait(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(what)


class Bench:
    def __init__(self, cluster: LocalCluster, nodes: int, max_unavailable: int):
        self.api = api_client(cluster.kubeconfig)
        self.core, self.apps = client.CoreV1Api(self.api), client.AppsV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.nodes, self.max_unavailable = nodes, max_unavailable
        self.runs = 0

    def _remove(self, namespace: str) -> None:
        """Wait until the namespace is gone, so no run overlaps with the previous one's clean-up."""
        self.core.delete_namespace(namespace)

        def gone() -> bool:
            try:
                self.core.read_namespace(namespace)
                return False
            except client.ApiException as exc:
                return exc.status == 404
        wait(gone, 600, f"namespace {namespace} deleted", 0.2)

    def _fresh_agent(self) -> str:
        self.runs += 1
        namespace = f"bench-{self.runs}"
        self.core.create_namespace({"metadata": {"name": namespace}})
        self.apps.create_namespaced_daemon_set(namespace, daemonset(self.max_unavailable))
        wait(lambda: (self.apps.read_namespaced_daemon_set("agent", namespace).status.number_ready or 0)
             == self.nodes, 600, "agent ready", 0.5)
        return namespace

    def native(self) -> float:
        namespace = self._fresh_agent()
        started = time.monotonic()
        self.apps.patch_namespaced_daemon_set("agent", namespace, {"spec": {"template": {"spec": {
            "containers": [{"name": "agent", "image": "example.com/bench/agent:v2"}]}}}})

        def done():
            ds = self.apps.read_namespaced_daemon_set("agent", namespace)
            s = ds.status
            return (s.observed_generation == ds.metadata.generation and s.updated_number_scheduled == self.nodes
                    and s.number_available == self.nodes and s.number_unavailable in (None, 0))
        wait(done, 1800, "native rollout")
        elapsed = time.monotonic() - started
        self._remove(namespace)
        return elapsed

    def operator(self, canary: int) -> float:
        namespace = self._fresh_agent()
        started = time.monotonic()
        self.custom.create_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans", {
            "apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan", "metadata": {"name": "bench"},
            "spec": {"plugin": "generic", "targetVersion": "v2", "namespace": namespace,
                     "daemonSet": {"name": "agent"}, "prePull": {"enabled": False},
                     "rollout": {"maxUnavailable": self.max_unavailable, "canary": {"count": canary},
                                 "nodeTimeoutSeconds": 600}}})
        wait(lambda: (self.custom.get_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans",
                                                               "bench").get("status") or {}).get("phase")
             == "Succeeded", 1800, "operator rollout")
        elapsed = time.monotonic() - started
        self._remove(namespace)
        return elapsed


def batch_gaps(log: Path) -> list[float]:
    """Seconds from a batch passing (not the last) to the same plan's next pod deletion, from the JSON log."""
    gaps, passed = [], {}  # plan -> when its latest non-final batch passed
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not entry.get("timestamp") or not entry.get("plan"):
            continue
        seconds = dt.datetime.fromisoformat(entry["timestamp"]).timestamp()
        batch = re.search(r"batch (\d+)/(\d+) passed", entry.get("message", ""))
        if entry.get("step") == "BatchSucceeded" and batch and batch[1] != batch[2]:
            passed[entry["plan"]] = seconds
        elif entry.get("action") == "DeletePod" and entry["plan"] in passed:
            gaps.append(seconds - passed.pop(entry["plan"]))
    return gaps


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else float("nan")


def run(nodes: int, max_unavailable: int, ready_ms: int, trials: int) -> dict:
    cluster = LocalCluster("bench", build.ensure_built())
    cluster.up(ClusterConfig(nodes=nodes, pod_ready_delay_ms=ready_ms))
    log = cluster.dir / "operator.log"
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    subprocess.run([str(cluster.binaries.path("kubectl")), "apply", "-f", str(REPO / "crds" / "upgradeplan.yaml")],
                   env=env, check=True, capture_output=True)
    time.sleep(1)
    with open(log, "wb") as out:
        operator = subprocess.Popen([sys.executable, "-m", "cniupgrade", "run", "--standalone", "--liveness=",
                                     f"--metrics-port={free_port()}", "--log-format=json"], env=env, stdout=out,
                                    stderr=subprocess.STDOUT)
    try:
        bench = Bench(cluster, nodes, max_unavailable)
        native, ours = [], []
        for _ in range(trials):  # alternate, so drift hits both alike
            native.append(bench.native())
            ours.append(bench.operator(canary=0))
        with_canary = bench.operator(canary=1)
        rss = peak_rss_mib(operator.pid)
    finally:
        operator.terminate()
        operator.wait(30)
        cluster.down()
    gaps = batch_gaps(log)
    ideal = math.ceil(nodes / max_unavailable) * ready_ms / 1000
    return {"nodes": nodes, "maxUnavailable": max_unavailable, "readyDelayMs": ready_ms, "trials": trials,
            "nativeMedian": statistics.median(native), "operatorMedian": statistics.median(ours),
            "ratio": statistics.median(ours) / statistics.median(native), "ideal": ideal,
            "operatorWithCanary": with_canary, "gapP50": percentile(gaps, 50), "gapP95": percentile(gaps, 95),
            "peakRssMiB": rss, "native": native, "operator": ours}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--nodes", default="100", help="comma-separated node counts, e.g. 100,1000")
    parser.add_argument("--max-unavailable", type=int, default=10)
    parser.add_argument("--ready-delay-ms", type=int, default=500)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args(argv)
    for count in (int(n) for n in args.nodes.split(",")):
        r = run(count, args.max_unavailable, args.ready_delay_ms, args.trials)
        print(f"nodes={r['nodes']} maxUnavailable={r['maxUnavailable']} ready={r['readyDelayMs']}ms "
              f"trials={r['trials']}")
        print(f"  native RollingUpdate  median {r['nativeMedian']:.2f}s  {['%.2f' % x for x in r['native']]}")
        print(f"  operator (no canary)  median {r['operatorMedian']:.2f}s  {['%.2f' % x for x in r['operator']]}")
        print(f"  ratio operator/native {r['ratio']:.3f}   ideal (batches x ready delay) {r['ideal']:.2f}s")
        print(f"  operator with a 1-node canary {r['operatorWithCanary']:.2f}s")
        print(f"  batch passed -> next batch's first deletion: p50 {r['gapP50'] * 1000:.0f} ms, "
              f"p95 {r['gapP95'] * 1000:.0f} ms")
        print(f"  operator peak RSS {r['peakRssMiB']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
