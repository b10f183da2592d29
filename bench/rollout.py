"""One rollout of a fresh DaemonSet, natively (RollingUpdate) or by an UpgradePlan, timed from the outside."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable
from dataclasses import dataclass, field

from kubernetes import client

from bench.floor import MinimalDeleter
from bench.peak import proc_status
from bench.podwatch import RawWatch
from bench.timeline import PodTimeline

LABELS = {"app": "bench-agent"}
OLD_IMAGE, NEW_IMAGE = "example.com/bench/agent:v1", "example.com/bench/agent:v2"
SETTLE_SECONDS = 1.0  # after the agent is Ready and the timeline has listed, before the clock starts


def daemonset(max_unavailable: int) -> dict:
    return {"metadata": {"name": "agent"}, "spec": {
        "selector": {"matchLabels": LABELS},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable,
                                                                      "maxSurge": 0}},
        "template": {"metadata": {"labels": LABELS}, "spec": {
            "hostNetwork": True, "tolerations": [{"operator": "Exists"}],
            "containers": [{"name": "agent", "image": OLD_IMAGE}]}}}}


def plan_body(namespace: str, max_unavailable: int, canary: int, taint: bool = True) -> dict:
    """The bench's UpgradePlan "bench": the agent to v2, no pre-pull; `taint`: spec.rollout.taintInFlight."""
    return {"apiVersion": "cniupgrade.io/v1alpha1", "kind": "UpgradePlan", "metadata": {"name": "bench"},
            "spec": {"plugin": "generic", "targetVersion": "v2", "namespace": namespace,
                     "daemonSet": {"name": "agent"}, "prePull": {"enabled": False},
                     "rollout": {"maxUnavailable": max_unavailable, "canary": {"count": canary},
                                 "nodeTimeoutSeconds": 600, "taintInFlight": taint}}}


def watch_until(list_fn, namespace: str, name: str, predicate, timeout: float, what: str, **kw) -> None:
    """Until `predicate(object)` holds, from a watch of that one object (polling a large object every few ms
    would load the API server and this process, and the measurement with them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        remaining = max(1, int(deadline - time.monotonic()))
        for event in RawWatch().stream(list_fn, namespace=namespace, field_selector=f"metadata.name={name}",
                                          timeout_seconds=min(remaining, 60), **kw):
            if event["type"] != "DELETED" and predicate(event["raw_object"]):
                return
    raise TimeoutError(what)


def wait(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(what)


@dataclass
class Run:
    kind: str
    seconds: float
    started_at: float  # epoch seconds, for the audit log
    ended_at: float
    refill_delays: list[float] = field(default_factory=list)
    phases: tuple[float, float, float] = (0.0, 0.0, 0.0)  # start -> first deletion -> last Ready -> done
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per component during the run
    in_flight: float = 0.0  # mean nodes between deletion and readiness
    cycle: float = 0.0  # mean seconds from a node's deletion to its new pod Ready
    cycle_split: tuple[float, ...] = ()  # PodTimeline.cycle_split
    passes: float = 0.0  # the operator's reconcile passes for the run's plan
    operator_mib: tuple[float, float] = (0.0, 0.0)  # the operator's RSS and peak RSS once the run was cleaned up


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """user + system CPU seconds each process has used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, pid in pids.items():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        used[name] = (int(fields[11]) + int(fields[12])) / ticks
    return used


class Rollouts:
    def __init__(self, api: client.ApiClient, nodes: int, max_unavailable: int, pids: dict[str, int],
                 passes: Callable[[], float] = lambda: 0.0, taint: bool = True):
        self.api, self.taint = api, taint
        self.passes = passes  # the operator's reconcile passes of the plans that exist (a deleted plan's go)
        self.core, self.apps = client.CoreV1Api(api), client.AppsV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.nodes, self.max_unavailable = nodes, max_unavailable
        self.pids = pids  # component -> pid, whose CPU use each run reports
        self.count = 0
        self.history: list[Run] = []  # every run, warm-ups included, in order

    def native(self) -> Run:
        def start(namespace: str) -> None:
            self.apps.patch_namespaced_daemon_set("agent", namespace, {"spec": {"template": {"spec": {
                "containers": [{"name": "agent", "image": NEW_IMAGE}]}}}})
        return self._timed("native", start, self._all_updated)

    def floor(self) -> Run:
        """The minimal OnDelete-driven rollout (bench/floor.py), for what driving from outside costs by itself."""
        def start(namespace: str) -> None:
            self.apps.patch_namespaced_daemon_set("agent", namespace, {"spec": {
                "updateStrategy": {"type": "OnDelete", "rollingUpdate": None},
                "template": {"spec": {"containers": [{"name": "agent", "image": NEW_IMAGE}]}}}})

        def finish(namespace: str) -> None:
            with MinimalDeleter(self.api, namespace, "app=bench-agent", self.max_unavailable, NEW_IMAGE):
                self._all_updated(namespace)
        return self._timed("floor", start, finish)

    def _all_updated(self, namespace: str) -> None:
        def done(ds: dict) -> bool:
            status, generation = ds.get("status") or {}, ds["metadata"]["generation"]
            return (status.get("observedGeneration") == generation
                    and status.get("updatedNumberScheduled") == self.nodes
                    and status.get("numberAvailable") == self.nodes and not status.get("numberUnavailable"))
        watch_until(self.apps.list_namespaced_daemon_set, namespace, "agent", done, 3600, "rollout")

    def operator(self, canary: int) -> Run:
        def start(namespace: str) -> None:
            self.custom.create_namespaced_custom_object("cniupgrade.io", "v1alpha1", namespace, "upgradeplans",
                                                        plan_body(namespace, self.max_unavailable, canary,
                                                                  self.taint))

        passes = []

        def finish(namespace: str) -> None:
            watch_until(self.custom.list_namespaced_custom_object, namespace, "bench",
                        lambda plan: (plan.get("status") or {}).get("phase") == "Succeeded", 3600, "operator rollout",
                        group="cniupgrade.io", version="v1alpha1", plural="upgradeplans")
            passes.append(self.passes())  # before the plan is deleted with its namespace
        run = self._timed("operator+canary" if canary else "operator", start, finish)
        run.passes = passes[0]
        return run

    def _timed(self, kind: str, start: Callable[[str], None], finish: Callable[[str], None]) -> Run:
        """One rollout of a fresh agent: `start` it, wait for `finish`, measured from the outside."""
        namespace = self._fresh_agent()
        with PodTimeline(self.api, namespace, "app=bench-agent", NEW_IMAGE) as timeline:
            # The API server answers a consistent pod list once it has asked etcd for progress, at most once per
            # 100 ms per resource: the timeline's own list just before the start held the first pod lists of the
            # operator and the floor back to the next such request (~70 ms), a wait native runs never paid.
            timeline.wait_listed()
            time.sleep(SETTLE_SECONDS)
            cpu = cpu_seconds(self.pids)
            started, wall = time.monotonic(), time.time()
            start(namespace)
            finish(namespace)
            run = Run(kind, time.monotonic() - started, wall, time.time())
        run.refill_delays = timeline.refill_delays(self.max_unavailable)
        run.phases = timeline.phases(started, started + run.seconds)
        run.in_flight, run.cycle = timeline.mean_in_flight(), timeline.mean_cycle()
        run.cycle_split = timeline.cycle_split()
        run.cpu = {k: round(v - cpu[k], 2) for k, v in cpu_seconds(self.pids).items()}
        self._remove(namespace)  # read after it: a deleted plan's finalizer runs in the operator meanwhile
        if "operator" in self.pids:
            run.operator_mib = tuple(round(proc_status(self.pids["operator"], f) / 1024, 1) for f in ("VmRSS", "VmHWM"))
        self.history.append(run)
        return run

    def _fresh_agent(self) -> str:
        self.count += 1
        namespace = f"bench-{self.count}"
        self.core.create_namespace({"metadata": {"name": namespace}})
        self.apps.create_namespaced_daemon_set(namespace, daemonset(self.max_unavailable))
        wait(lambda: (self.apps.read_namespaced_daemon_set("agent", namespace).status.number_ready or 0)
             == self.nodes, 900, "agent ready", 0.5)
        return namespace

    def _remove(self, namespace: str) -> None:
        """Wait until the namespace is gone, so no run overlaps with the previous one's clean-up."""
        self.core.delete_namespace(namespace)

        def gone() -> bool:
            try:
                self.core.read_namespace(namespace)
                return False
            except client.ApiException as exc:
                return exc.status == 404
        wait(gone, 900, f"namespace {namespace} deleted", 0.2)
