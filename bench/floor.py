"""The floor for any rollout driven from outside the DaemonSet controller: the least such a controller can do.

It sets the DaemonSet to OnDelete with the new image and, from one pod watch, deletes the next old pod (in node
order) the moment fewer than maxUnavailable nodes are in flight: no checks, no status, no events, constant work
per event, deletions sent from a thread pool. Whatever it loses against the native RollingUpdate, every
OnDelete-driven rollout (ours included) loses too.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from kubernetes import client

from bench.podwatch import PodFollower


class MinimalDeleter(PodFollower):
    join_on_exit = False

    def __init__(self, api: client.ApiClient, namespace: str, selector: str, max_unavailable: int, new_image: str):
        super().__init__(api, namespace, selector)
        self.max_unavailable, self.new_image = max_unavailable, new_image
        self.old_pod: dict[str, str] = {}  # node -> its live old pod
        self.order: list[str] = []  # nodes to replace, in order
        self.next = 0
        self.in_flight: set[str] = set()  # deleted, new pod not Ready yet
        self._pool = ThreadPoolExecutor(max_workers=max_unavailable)

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        self._pool.shutdown(wait=False)

    def _listed(self) -> None:
        self.order = sorted(self.old_pod)
        self._act()

    def _record(self, kind: str, pod: dict) -> None:
        node, name = pod["spec"].get("nodeName"), pod["metadata"]["name"]
        if not node:
            return
        gone = kind == "DELETED" or pod["metadata"].get("deletionTimestamp")
        if pod["spec"]["containers"][0]["image"] != self.new_image:
            if gone:
                self.old_pod.pop(node, None)
            else:
                self.old_pod[node] = name
        elif not gone and _ready(pod):
            self.in_flight.discard(node)
        if self.order:  # once the list is in
            self._act()

    def _act(self) -> None:
        while len(self.in_flight) < self.max_unavailable and self.next < len(self.order):
            node = self.order[self.next]
            self.next += 1
            name = self.old_pod.get(node)
            if name:
                self.in_flight.add(node)
                self._pool.submit(self.core.delete_namespaced_pod, name, self.namespace, _preload_content=False)


def _ready(pod: dict) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
