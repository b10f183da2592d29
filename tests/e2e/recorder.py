"""Watches a DaemonSet's pods from the outside and checks the rollout's promises on the timeline."""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass

from kubernetes import client, watch


@dataclass(frozen=True)
class PodEvent:
    at: float
    kind: str
    uid: str
    node: str | None
    revision: str
    ready: bool
    deleting: bool


class PodRecorder:
    def __init__(self, api: client.ApiClient, namespace: str, selector: str):
        self.core = client.CoreV1Api(api)
        self.namespace, self.selector = namespace, selector
        self.events: list[PodEvent] = []
        self.node_events: list[tuple[float, str, str]] = []  # (at, node, Ready status): for failure messages
        self._pod_version: str | None = None  # where the pod watch resumes; None: list again
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(watch_,), daemon=True)
                         for watch_ in (self._watch_once, self._watch_nodes_once)]

    def __enter__(self) -> PodRecorder:
        for thread in self._threads:
            thread.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _run(self, watch_once) -> None:
        while not self._stop.is_set():
            try:
                watch_once()
            except Exception:  # noqa: BLE001 - the API server may be restarting (chaos tests): watch again
                time.sleep(0.3)

    def _watch_nodes_once(self) -> None:
        """Each node's Ready condition as it changes: a node flapping would explain an extra node down."""
        stream = watch.Watch()
        last: dict[str, str] = {}
        for event in stream.stream(self.core.list_node, timeout_seconds=5):
            node = event["object"]
            ready = next((c.status for c in (node.status.conditions or []) if c.type == "Ready"), "Unknown")
            if last.get(node.metadata.name) != ready:
                last[node.metadata.name] = ready
                self.node_events.append((time.monotonic(), node.metadata.name, ready))
            if self._stop.is_set():
                stream.stop()

    def _watch_once(self) -> None:
        """A watch resumed from the last version seen, so its end every 5 s loses nothing and replays nothing.
        After an error (say the API server restarted) the pods are listed again, as one snapshot: replayed one
        by one, a node's old pod could be counted before its Ready new one and the node seen down."""
        if self._pod_version is None:
            self._snapshot()
        stream = watch.Watch()
        try:
            for event in stream.stream(self.core.list_namespaced_pod, self.namespace, label_selector=self.selector,
                                       resource_version=self._pod_version, timeout_seconds=5):
                self._record(time.monotonic(), event["type"], event["object"])
                if self._stop.is_set():
                    stream.stop()
            self._pod_version = stream.resource_version  # the Watch keeps the last version it delivered
        except Exception:
            self._pod_version = None
            raise

    def _snapshot(self) -> None:
        """Every pod as listed, stamped with one time (judged as one step); pods gone meanwhile as DELETED."""
        listed = self.core.list_namespaced_pod(self.namespace, label_selector=self.selector)
        at = time.monotonic()
        present = {pod.metadata.uid for pod in listed.items}
        for uid, last in self._live_pods().items():
            if uid not in present:
                self.events.append(PodEvent(at, "DELETED", uid, last.node, last.revision, False, True))
        for pod in listed.items:
            self._record(at, "ADDED", pod)
        self._pod_version = listed.metadata.resource_version

    def _record(self, at: float, kind: str, pod) -> None:
        ready = any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
        self.events.append(PodEvent(at, kind, pod.metadata.uid, pod.spec.node_name,
                                    (pod.metadata.labels or {}).get("controller-revision-hash", ""),
                                    ready, pod.metadata.deletion_timestamp is not None))

    def _live_pods(self) -> dict[str, PodEvent]:
        last: dict[str, PodEvent] = {}
        for e in self.events:
            last[e.uid] = e
        return {uid: e for uid, e in last.items() if e.kind != "DELETED"}

    # ---- what the timeline shows ---------------------------------------------------------------------
    def uids_per_node(self) -> dict[str, set[str]]:
        seen: dict[str, set[str]] = defaultdict(set)
        for e in self.events:
            if e.node:
                seen[e.node].add(e.uid)
        return seen

    def max_unavailable(self) -> int:
        """The most nodes at once whose agent pod was not Ready (deleted, terminating or starting)."""
        return len(self.unavailable_peak())

    def unavailable_peak(self) -> list[str]:
        """The nodes without a Ready agent pod at the first moment there were the most."""
        return self._peak()[1]

    def _peak(self) -> tuple[float, list[str]]:
        state: dict[str, dict[str, bool]] = defaultdict(dict)  # node -> uid -> ready
        worst: tuple[float, list[str]] = (0.0, [])
        for i, e in enumerate(self.events):
            if not e.node:
                continue
            if e.kind == "DELETED" or e.deleting:
                state[e.node].pop(e.uid, None)
            else:
                state[e.node][e.uid] = e.ready
            if i + 1 < len(self.events) and self.events[i + 1].at == e.at:
                continue  # a snapshot is judged once all of it is in
            down = [node for node, pods in state.items() if not any(pods.values())]
            if len(down) > len(worst[1]):
                worst = (e.at, sorted(down))
        return worst

    def peak_story(self) -> str:
        """An assertion's message: the nodes down at the peak, with each one's pod and node events up to it."""
        at, nodes = self._peak()
        start = self.events[0].at if self.events else at
        lines = [f"{len(nodes)} nodes down at t={at - start:.3f}s: {nodes}"]
        for node in nodes:
            story = [(e.at, f"{e.kind} pod {e.uid[:8]} rev={e.revision} ready={e.ready} deleting={e.deleting}")
                     for e in self.events if e.node == node and e.at <= at]
            story += [(t, f"node Ready={ready}") for t, name, ready in self.node_events if name == node and t <= at]
            lines.append(f"  {node}:")
            lines += [f"    t={t - start:.3f} {text}" for t, text in sorted(story)]
        return "\n".join(lines)

    def deletion_order(self) -> list[str]:
        """Nodes in the order their first pod began terminating."""
        order: list[str] = []
        for e in self.events:
            if e.node and (e.deleting or e.kind == "DELETED") and e.node not in order:
                order.append(e.node)
        return order

    def first_ready_at(self, node: str, revision: str) -> float | None:
        return next((e.at for e in self.events if e.node == node and e.revision == revision and e.ready), None)

    def first_deletion_at(self, node: str) -> float | None:
        return next((e.at for e in self.events if e.node == node and (e.deleting or e.kind == "DELETED")), None)
