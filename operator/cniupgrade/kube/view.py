"""What one plan watches: its DaemonSet, the DaemonSet's pods and revisions, its probe pods, and the nodes.

Each is a WatchCache scoped by namespace, label or field selector, so the loop reads memory, not the API.
Pods and nodes are kept as the small frozen views decisions read, converted once per watch event rather
than once per pass.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
from typing import Callable, Container

from kubernetes import client
from kubernetes.client.rest import ApiException

from cniupgrade.api import models
from cniupgrade.kube.freeze import FREEZE_LABEL
from cniupgrade.kube.revisions import RevisionView, matching_revision, newest_revision
from cniupgrade.kube.watchcache import WatchCache
from cniupgrade.rollout.agent_pods import AgentPod, AgentPodIndex
from cniupgrade.rollout.change_freeze import freeze_name
from cniupgrade.rollout.observation import DaemonSetView, DeploymentView, Observation, PrePullPod, ProbePod
from cniupgrade.seams.objects import PREPULL_LABEL, PROBE_LABEL, NodeInfo, Taint

SYNC_TIMEOUT = 30.0
OWNER_RECHECK_SECONDS = 5.0


def node_info(node: dict) -> NodeInfo:
    meta, status = node["metadata"], node.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    spec = node.get("spec") or {}
    return NodeInfo(name=meta["name"], labels=meta.get("labels") or {}, ready=ready,
                    schedulable=not spec.get("unschedulable", False),
                    taints=tuple(Taint(t.get("key", ""), t.get("effect", ""), t.get("value") or "")
                                 for t in spec.get("taints") or ()))


def decision_input(pod: AgentPod | None, deleted_by_us: Container[str] = ()) -> tuple | None:
    """What of an agent pod a decision reads: a live pod's node, identity, revision and readiness. A pod not yet
    scheduled, a new waiting reason (read when a node times out, on a deadline of its own), the removal of a
    pod already terminating, and anything of a pod this process deleted (its node is in flight already) do not
    wake the loop: most of a node's pod events, and as many passes."""
    if pod is None or pod.node is None or pod.terminating or pod.uid in deleted_by_us:
        return None
    return pod.node, pod.uid, pod.revision, pod.ready


def daemonset_input(ds: dict | None) -> tuple | None:
    """What a decision reads of the DaemonSet: its spec (generation), annotations, and whether the controller has
    seen the spec (observedGeneration). Its status counters change with every pod and wake nobody: a pass per
    counter update was about one pass per node."""
    if ds is None:
        return None
    meta = ds["metadata"]
    return (meta.get("uid"), meta.get("generation"), (ds.get("status") or {}).get("observedGeneration"),
            tuple(sorted((meta.get("annotations") or {}).items())), meta.get("deletionTimestamp"))


def selector_string(match_labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))


def nodes_cache(api: client.ApiClient, on_change: Callable[[], None]) -> WatchCache:
    return WatchCache("nodes", client.CoreV1Api(api).list_node, on_change, transform=node_info)


class NodeCache:
    """One node cache per process, shared by every plan."""

    _instance: WatchCache | None = None
    _lock = threading.Lock()
    _listeners: list[Callable[[], None]] = []

    @classmethod
    def get(cls, api: client.ApiClient, on_change: Callable[[], None]) -> WatchCache:
        with cls._lock:
            cls._listeners.append(on_change)
            if cls._instance is None:
                cls._instance = nodes_cache(api, cls._notify).start()
            return cls._instance

    @classmethod
    def forget(cls, on_change: Callable[[], None]) -> None:
        with cls._lock:
            if on_change in cls._listeners:
                cls._listeners.remove(on_change)

    @classmethod
    def _notify(cls) -> None:
        for listener in list(cls._listeners):
            listener()


class PlanView:
    def __init__(self, api: client.ApiClient, namespace: str, ds_name: str, plan_key: str, plan_uid: str,
                 on_change: Callable[[], None], deployments: tuple[str, ...] = (),
                 deleted_by_us: Container[str] = (), one_shot: bool = False, watch_freeze: bool = False):
        """`one_shot`: each cache is listed once, in the caller's thread, and never watched (a command that reads
        the cluster once, then exits: no thread is left reading a socket under the interpreter's exit)."""
        self.api, self.namespace, self.ds_name = api, namespace, ds_name
        self.one_shot = one_shot
        self.plan_key, self.plan_uid = plan_key, plan_uid
        self.core, self.apps = client.CoreV1Api(api), client.AppsV1Api(api)
        self._on_change = on_change
        self._deleted_by_us = deleted_by_us  # UIDs of agent pods this process deleted
        self._revision_cache: tuple[tuple, str | None] | None = None
        self._owner_seen: tuple[str, float, bool] | None = None
        self.pods: WatchCache | None = None
        self.revisions: WatchCache | None = None
        self._pod_selector: str | None = None
        self._selector_lock = threading.Lock()
        self._stopped = False
        # started once the DaemonSet's list is in (_ensure_pod_caches)
        self.probes: WatchCache | None = None
        self.prepull: WatchCache | None = None
        self.daemonsets = WatchCache(f"ds-{namespace}-{ds_name}", self.apps.list_namespaced_daemon_set,
                                     self._on_daemonset_change, wakes_on=daemonset_input, namespace=namespace,
                                     field_selector=f"metadata.name={ds_name}")
        self._begin(self.daemonsets)  # after the assignment: its first list calls back into self.daemonsets
        self.deployment_names = deployments
        self.deployments = [self._begin(WatchCache(f"deploy-{namespace}-{name}", self.apps.list_namespaced_deployment,
                                                   on_change, namespace=namespace,
                                                   field_selector=f"metadata.name={name}"))
                            for name in deployments]
        self.nodes = self._begin(nodes_cache(api, on_change)) if one_shot else NodeCache.get(api, on_change)
        self._nodes_seen: tuple[int, dict[str, NodeInfo]] | None = None
        # the plan's change-freeze binding, when it may have one (spec.changeFreeze)
        self.watch_freeze = watch_freeze
        self.freeze = self._begin(WatchCache(
            f"freeze-{plan_key}", client.AdmissionregistrationV1Api(api).list_validating_admission_policy_binding,
            on_change, field_selector=f"metadata.name={freeze_name(plan_key)}")) if watch_freeze else None

    def _begin(self, cache: WatchCache) -> WatchCache:
        return cache.list_once() if self.one_shot else cache.start()

    def stop(self) -> None:
        with self._selector_lock:  # a DaemonSet event arriving now starts no new cache
            self._stopped = True
        for cache in (self.daemonsets, self.probes, self.prepull, self.pods, self.revisions, *self.deployments,
                      self.freeze):
            if cache is not None:
                cache.stop()
        NodeCache.forget(self._on_change)

    def _on_daemonset_change(self) -> None:
        """Start the pod and revision caches as soon as the DaemonSet's selector is known, not on the next pass."""
        self._ensure_pod_caches(self.daemonsets.get(self.namespace, self.ds_name))
        self._on_change()

    def _ensure_pod_caches(self, ds: dict | None) -> WatchCache | None:
        """Start what is not running yet: the plan's probe and pre-pull pod caches and, once the DaemonSet is known,
        its pod and revision caches (again if its selector changed); returns the agent pod cache. Each lists from a
        state no older than the DaemonSet's (consistent) list: a consistent list of its own would wait for the API
        server's next progress request to etcd, one per 100 ms per resource, up to 100 ms for each of them."""
        selector = selector_string(ds["spec"]["selector"].get("matchLabels") or {}) if ds is not None else None
        with self._selector_lock:  # the DaemonSet's watch thread and the loop both get here
            if self._stopped:
                return self.pods
            since = self.daemonsets.resource_version
            if self.probes is None:
                self.probes = self._begin(WatchCache(
                    f"probes-{self.plan_uid}", self.core.list_namespaced_pod, self._on_change,
                    transform=ProbePod.from_api, namespace=self.namespace,
                    label_selector=f"{PROBE_LABEL}={self.plan_uid}", not_older_than=since))
                self.prepull = self._begin(WatchCache(
                    f"prepull-{self.plan_uid}", self.core.list_namespaced_pod, self._on_change,
                    transform=PrePullPod.from_api, namespace=self.namespace,
                    label_selector=f"{PREPULL_LABEL}={self.plan_uid}", not_older_than=since))
            if selector is not None and (self.pods is None or selector != self._pod_selector):
                for cache in (self.pods, self.revisions):
                    if cache is not None:
                        cache.stop()
                self._pod_selector = selector
                self.pods = self._begin(WatchCache(
                    f"pods-{self.namespace}-{self.ds_name}", self.core.list_namespaced_pod, self._on_change,
                    transform=AgentPod.from_api, index=AgentPodIndex(),
                    wakes_on=lambda pod: decision_input(pod, self._deleted_by_us), namespace=self.namespace,
                    label_selector=selector, not_older_than=since))
                # A new revision wakes nobody: the DaemonSet's status (observedGeneration) does.
                self.revisions = self._begin(WatchCache(
                    f"revisions-{self.namespace}-{self.ds_name}", self.apps.list_namespaced_controller_revision,
                    lambda: None, transform=RevisionView.from_api, namespace=self.namespace,
                    label_selector=selector, not_older_than=since))
            return self.pods

    def _current_revision(self, ds: dict) -> str | None:
        """The hash of the DaemonSet's newest ControllerRevision, once the controller has seen its template."""
        meta, status = ds["metadata"], ds.get("status") or {}
        if status.get("observedGeneration", 0) < meta.get("generation", 0):
            return None
        key = (meta["uid"], meta.get("generation"))
        if self._revision_cache and self._revision_cache[0] == key:
            return self._revision_cache[1]
        revisions = self.revisions  # started by observe() for this DaemonSet
        # Not synced yet (or not allowed to watch, say an older Role): list, without waiting.
        current = matching_revision(ds, revisions.items()) if revisions.synced else None
        if current is None:  # the watch is behind (or the controller serializes the template differently): ask
            listed = json.loads(self.apps.list_namespaced_controller_revision(
                self.namespace, label_selector=self._pod_selector or "", _preload_content=False).data)["items"]
            current = newest_revision(ds, [RevisionView.from_api(r) for r in listed])
        self._revision_cache = (key, current)
        return current

    def _other_owner_alive(self, owner: str | None) -> bool:
        """Does the plan holding the DaemonSet still exist? A waiting plan is woken by every pod event of the
        other plan's rollout, so the answer is kept for OWNER_RECHECK_SECONDS instead of a GET per event."""
        if not owner or owner == self.plan_key:
            return False
        if self._owner_seen and self._owner_seen[0] == owner and \
                time.monotonic() - self._owner_seen[1] < OWNER_RECHECK_SECONDS:
            return self._owner_seen[2]
        namespace, _, name = owner.partition("/")
        try:
            client.CustomObjectsApi(self.api).get_namespaced_custom_object(
                models.GROUP, models.VERSION, namespace, models.PLURAL, name)
            alive = True
        except ApiException as exc:
            if exc.status != 404:
                raise
            alive = False
        self._owner_seen = (owner, time.monotonic(), alive)
        return alive

    def _nodes_by_name(self) -> dict[str, NodeInfo]:
        """Rebuilt only when a node changed (nodes rarely change during a rollout; passes run on pod events)."""
        version = self.nodes.version
        if self._nodes_seen is None or self._nodes_seen[0] != version:
            self._nodes_seen = (version, {n.name: n for n in self.nodes.items()})
        return self._nodes_seen[1]

    def observe(self) -> Observation:
        if not self.daemonsets.wait_synced(SYNC_TIMEOUT):
            raise TimeoutError(f"cache {self.daemonsets.name} did not sync within {SYNC_TIMEOUT}s")
        raw_ds = self.daemonsets.get(self.namespace, self.ds_name)
        pods_cache = self._ensure_pod_caches(raw_ds)
        for cache in (self.probes, self.prepull, self.nodes, *self.deployments, *filter(None, [self.freeze])):
            if not cache.wait_synced(SYNC_TIMEOUT):
                raise TimeoutError(f"cache {cache.name} did not sync within {SYNC_TIMEOUT}s")
        now = dt.datetime.now(dt.timezone.utc)
        nodes = self._nodes_by_name()
        probes = {p.node: p for p in self.probes.items() if p.node}
        prepull = {p.node: p for p in self.prepull.items() if p.node}
        control_plane = tuple(DeploymentView.from_api(d) for cache in self.deployments for d in cache.items())
        freeze = next((((b["metadata"].get("labels") or {}).get(FREEZE_LABEL) or "?")
                       for b in self.freeze.items()), None) if self.freeze else None
        if raw_ds is None:
            return Observation(now=now, plan_key=self.plan_key, daemonset=None, current_revision=None,
                               nodes=nodes, probes=probes, prepull=prepull, change_freeze=freeze)
        if not pods_cache.wait_synced(SYNC_TIMEOUT):
            raise TimeoutError(f"cache {pods_cache.name} did not sync within {SYNC_TIMEOUT}s")
        ds = DaemonSetView.from_api(raw_ds)
        return Observation(now=now, plan_key=self.plan_key, daemonset=ds,
                           current_revision=self._current_revision(raw_ds),
                           agents=pods_cache.snapshot(), nodes=nodes, probes=probes,
                           prepull=prepull, control_plane=control_plane,
                           other_owner_alive=self._other_owner_alive(ds.owner), change_freeze=freeze)
