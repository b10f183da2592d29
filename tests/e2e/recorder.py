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
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PodRecorder:
        self._thread.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._watch_once()
            except Exception:  # noqa: BLE001 - the API server may be restarting (chaos tests): watch again
                time.sleep(0.3)

    def _watch_once(self) -> None:
        """One watch; after a reconnect the relist replays pods as ADDED, harmless for per-node UID sets."""
        stream = watch.Watch()
        for event in stream.stream(self.core.list_namespaced_pod, self.namespace, label_selector=self.selector,
                                   timeout_seconds=5):
            pod = event["object"]
            ready = any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
            self.events.append(PodEvent(time.monotonic(), event["type"], pod.metadata.uid, pod.spec.node_name,
                                        (pod.metadata.labels or {}).get("controller-revision-hash", ""),
                                        ready, pod.metadata.deletion_timestamp is not None))
            if self._stop.is_set():
                stream.stop()

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
        """The nodes without a Ready agent pod at the first moment there were the most: an assertion's message."""
        state: dict[str, dict[str, bool]] = defaultdict(dict)  # node -> uid -> ready
        worst: list[str] = []
        for e in self.events:
            if not e.node:
                continue
            if e.kind == "DELETED" or e.deleting:
                state[e.node].pop(e.uid, None)
            else:
                state[e.node][e.uid] = e.ready
            down = [node for node, pods in state.items() if not any(pods.values())]
            if len(down) > len(worst):
                worst = sorted(down)
        return worst

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
