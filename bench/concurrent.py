"""python -m bench.concurrent: many plans at once on as many DaemonSets (generic profile, the same nodes), against
one plan alone.

Prints each plan's rollout time (creation -> Succeeded) next to a plan alone, when each started rolling after its
creation (plans on disjoint DaemonSets must not wait on each other), and the operator's CPU seconds per reconcile
pass alone and with all of them: the cost of one event must not grow with the number of plans.
"""
from __future__ import annotations

import argparse
import calendar
import os
import statistics
import sys
import time

from kubernetes import client

from bench.__main__ import operated_cluster, reconcile_passes
from bench.rollout import cpu_seconds, daemonset, plan_body, wait
from localcluster.cluster import ClusterConfig

GROUP, VERSION, PLURAL = "cniupgrade.io", "v1alpha1", "upgradeplans"


def parse(text: str) -> float:
    """A status time ('2026-12-03T06:00:00Z') as epoch seconds."""
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


class Fleet:
    def __init__(self, api: client.ApiClient, nodes: int, max_unavailable: int, operator_pid: int, metrics_port: int):
        self.core, self.apps = client.CoreV1Api(api), client.AppsV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.nodes, self.max_unavailable = nodes, max_unavailable
        self.operator_pid, self.metrics_port = operator_pid, metrics_port

    def agents(self, namespaces: list[str]) -> None:
        for namespace in namespaces:
            self.core.create_namespace({"metadata": {"name": namespace}})
            self.apps.create_namespaced_daemon_set(namespace, daemonset(self.max_unavailable))
        for namespace in namespaces:
            wait(lambda: (self.apps.read_namespaced_daemon_set("agent", namespace).status.number_ready or 0)
                 == self.nodes, 900, f"agent Ready in {namespace}", 0.5)

    def roll(self, namespaces: list[str]) -> dict:
        """Plans created at once in `namespaces`; waits for all to succeed."""
        time.sleep(2.0)  # the agents' last pod events settle
        cpu, passes = cpu_seconds({"operator": self.operator_pid})["operator"], reconcile_passes(self.metrics_port)
        created = {}
        for namespace in namespaces:
            self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL,
                                                        plan_body(namespace, self.max_unavailable, canary=1))
            created[namespace] = time.time()
        done: dict[str, dict] = {}

        def all_done() -> bool:
            for namespace in namespaces:
                if namespace not in done:
                    plan = self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "bench")
                    status = plan.get("status") or {}
                    if status.get("phase") == "Succeeded":  # both times the API server's, in whole seconds
                        done[namespace] = {"ended": time.time(), "startDelay": parse(status["startedAt"])
                                           - parse(plan["metadata"]["creationTimestamp"])}
            return len(done) == len(namespaces)
        wait(all_done, 1800, "every plan Succeeded", 0.5)
        passes = reconcile_passes(self.metrics_port) - passes  # before the plans go
        cpu = cpu_seconds({"operator": self.operator_pid})["operator"] - cpu
        return {"seconds": [done[n]["ended"] - created[n] for n in namespaces],
                "startDelay": [done[n]["startDelay"] for n in namespaces],
                "passes": passes, "cpu": cpu}


def run(plans: int, nodes: int, max_unavailable: int, ready_ms: int) -> tuple[dict, dict]:
    with operated_cluster("concurrent", ClusterConfig(nodes=nodes, pod_ready_delay_ms=ready_ms)) as operated:
        fleet = Fleet(operated.api, nodes, max_unavailable, operated.operator.pid, operated.metrics_port)
        names = [f"conc-{i}" for i in range(plans + 2)]
        fleet.agents(names)  # every DaemonSet first: the lone plan runs among as many pods as the many do
        fleet.roll(names[:1])  # warm-up: the operator's first plan pays its start-up
        return fleet.roll(names[1:2]), fleet.roll(names[2:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.concurrent", description=__doc__)
    parser.add_argument("--plans", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--max-unavailable", type=int, default=5)
    parser.add_argument("--ready-delay-ms", type=int, default=500)
    args = parser.parse_args(argv)
    alone, together = run(args.plans, args.nodes, args.max_unavailable, args.ready_delay_ms)
    lone = alone["seconds"][0]
    print(f"{args.nodes} nodes, maxUnavailable {args.max_unavailable}, 1-node canary, pods Ready after "
          f"{args.ready_delay_ms} ms, {os.cpu_count()} cores")
    print(f"  one plan alone: {lone:.2f}s, {alone['passes']:.0f} passes, operator CPU {alone['cpu']:.2f}s "
          f"({alone['cpu'] / max(alone['passes'], 1) * 1000:.2f} ms per pass)")
    seconds = together["seconds"]
    print(f"  {args.plans} plans at once: per plan median {statistics.median(seconds):.2f}s "
          f"(x{statistics.median(seconds) / lone:.2f} of alone), slowest {max(seconds):.2f}s; "
          f"started rolling after creation (whole seconds): median {statistics.median(together['startDelay']):.0f}s, "
          f"last {max(together['startDelay']):.0f}s")
    print(f"  {together['passes']:.0f} passes, operator CPU {together['cpu']:.2f}s "
          f"({together['cpu'] / max(together['passes'], 1) * 1000:.2f} ms per pass; "
          f"x{(together['cpu'] / max(together['passes'], 1)) / (alone['cpu'] / max(alone['passes'], 1)):.2f} "
          f"of alone)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
