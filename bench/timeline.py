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

    def _record(self, kind: str, pod: dict) -> None:
        now = time.monotonic()
        node = pod["spec"].get("nodeName")
        if not node:
            return
        if pod["spec"]["containers"][0]["image"] != self.new_image:
            if kind == "DELETED" or pod["metadata"].get("deletionTimestamp"):
                self.deleted.setdefault(node, now)
        elif any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions") or []):
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

    def mean_cycle(self) -> float:
        cycles = [self.ready[n] - self.deleted[n] for n in self.deleted if n in self.ready]
        return sum(cycles) / len(cycles) if cycles else 0.0
