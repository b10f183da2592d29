"""An outside view of one rollout: every agent pod's deletion and readiness, from a pod watch."""
from __future__ import annotations

import time

from kubernetes import client

from bench.podwatch import PodFollower


class PodTimeline(PodFollower):
    """Records when each old pod started terminating and when each new pod became Ready (monotonic seconds)."""

    def __init__(self, api: client.ApiClient, namespace: str, selector: str, new_image: str):
        super().__init__(api, namespace, selector)
        self.new_image = new_image
        self.deleted: dict[str, float] = {}  # node -> its old pod first seen terminating or gone
        self.ready: dict[str, float] = {}  # node -> its new pod first seen Ready
        # Where a node's cycle goes: its old pod removed, its new pod created, bound by the scheduler
        self.gone: dict[str, float] = {}
        self.created: dict[str, float] = {}
        self.bound: dict[str, float] = {}

    def _record(self, kind: str, pod: dict) -> None:
        now = time.monotonic()
        node = pod["spec"].get("nodeName")
        if pod["spec"]["containers"][0]["image"] != self.new_image:
            if node and (kind == "DELETED" or pod["metadata"].get("deletionTimestamp")):
                self.deleted.setdefault(node, now)
            if node and kind == "DELETED":
                self.gone.setdefault(node, now)
            return
        target = node or affinity_node(pod)
        if target:
            self.created.setdefault(target, now)
        if node:
            self.bound.setdefault(node, now)
            if any(c["type"] == "Ready" and c["status"] == "True"
                   for c in pod.get("status", {}).get("conditions") or []):
                self.ready.setdefault(node, now)

    def refill_delays(self, max_unavailable: int) -> list[float]:
        """Seconds from a node freeing its slot (its new pod Ready) to the next old pod's deletion.

        The first maxUnavailable deletions open the rollout; deletion maxUnavailable+i refills the slot the
        i-th Ready pod freed. For a lock-step rollout this includes waiting for the rest of the batch."""
        deletions = sorted(self.deleted.values())
        readies = sorted(self.ready.values())
        return [max(0.0, deletions[max_unavailable + i] - readies[i])
                for i in range(min(len(readies), len(deletions) - max_unavailable))]

    def phases(self, started: float, ended: float) -> tuple[float, float, float]:
        """Seconds from the start to the first deletion, from there to the last new pod Ready, and to the end."""
        first, last = min(self.deleted.values()), max(self.ready.values())
        return first - started, last - first, ended - last

    def mean_in_flight(self) -> float:
        """Nodes between their old pod's deletion and their new pod's readiness, on average over the rollout."""
        cycles = [self.ready[n] - self.deleted[n] for n in self.deleted if n in self.ready]
        span = max(self.ready.values()) - min(self.deleted.values())
        return sum(cycles) / span if span > 0 else 0.0

    def cycle_split(self) -> tuple[float, ...]:
        """Mean seconds of a node's cycle: deletion -> old pod gone -> new pod created -> bound -> Ready."""
        steps = (self.deleted, self.gone, self.created, self.bound, self.ready)
        nodes = [n for n in self.deleted if all(n in step for step in steps)]
        return tuple(sum(later[n] - earlier[n] for n in nodes) / len(nodes) if nodes else 0.0
                     for earlier, later in zip(steps, steps[1:]))

    def mean_cycle(self) -> float:
        cycles = [self.ready[n] - self.deleted[n] for n in self.deleted if n in self.ready]
        return sum(cycles) / len(cycles) if cycles else 0.0


def affinity_node(pod: dict) -> str | None:
    """The node a DaemonSet pod is for before the scheduler binds it (its required metadata.name field)."""
    terms = ((((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {})
              .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or [])
    for term in terms:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("values"):
                return field["values"][0]
    return None
