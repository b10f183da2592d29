"""The DaemonSet's pods by node: the snapshot a decision reads, and the index the pod watch keeps up to date.

A pass asks for every node's live agent and the nodes whose agent is Ready; rebuilding those from all the pods
each pass was ~0.4 ms at 1000 nodes. The index changes pod by pod and hands out a copy made in C.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

REVISION_LABEL = "controller-revision-hash"


def is_ready(obj: Mapping) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


@dataclass(frozen=True)
class AgentPod:
    name: str
    uid: str
    node: str | None
    revision: str
    ready: bool
    terminating: bool
    waiting_reason: str = ""

    @classmethod
    def from_api(cls, pod: Mapping) -> AgentPod:
        meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        reasons = [s.get("state", {}).get("waiting", {}).get("reason", "")
                   for s in (status.get("containerStatuses") or [])]
        return cls(name=meta["name"], uid=meta["uid"], node=spec.get("nodeName"),
                   revision=(meta.get("labels") or {}).get(REVISION_LABEL, ""), ready=is_ready(pod),
                   terminating=meta.get("deletionTimestamp") is not None,
                   waiting_reason=next((r for r in reasons if r), status.get("phase", "")))


@dataclass(frozen=True)
class AgentPods:
    live: Mapping[str, AgentPod] = field(default_factory=dict)  # node -> its live agent (terminating = gone)
    ready: frozenset[str] = frozenset()  # nodes whose live agent is Ready
    placed: frozenset[str] = frozenset()  # nodes with any agent pod, a terminating one included

    @classmethod
    def of(cls, pods: Iterable[AgentPod]) -> AgentPods:
        index = AgentPodIndex()
        index.reset(pods)
        return index.snapshot()


class AgentPodIndex:
    """Kept by the pod cache under its lock. A node with two live pods (briefly, say during a surge) shows the
    one that became live first."""

    def __init__(self):
        self._live: dict[str, dict[str, AgentPod]] = {}  # node -> its live pods by uid, oldest first
        self._first: dict[str, AgentPod] = {}
        self._ready: set[str] = set()
        self._placed: dict[str, int] = {}  # node -> how many pods are on it
        self._snapshot: AgentPods | None = None

    def reset(self, pods: Iterable[AgentPod]) -> None:
        self._live, self._first, self._ready, self._placed, self._snapshot = {}, {}, set(), {}, None
        for pod in pods:
            self.replace(None, pod)

    def replace(self, old: AgentPod | None, new: AgentPod | None) -> None:
        """`old` became `new` (None: absent)."""
        if old == new:
            return
        self._snapshot = None
        for pod, step in ((old, -1), (new, 1)):
            if pod is not None and pod.node:
                count = self._placed.get(pod.node, 0) + step
                if count:
                    self._placed[pod.node] = count
                else:
                    del self._placed[pod.node]
        new_live = new is not None and bool(new.node) and not new.terminating
        if old is not None and old.node and not old.terminating and \
                not (new_live and (new.node, new.uid) == (old.node, old.uid)):  # an update keeps its place
            self._live.get(old.node, {}).pop(old.uid, None)
            self._refresh(old.node)
        if new_live:
            self._live.setdefault(new.node, {})[new.uid] = new
            self._refresh(new.node)

    def _refresh(self, node: str) -> None:
        pods = self._live.get(node)
        first = next(iter(pods.values()), None) if pods else None
        if first is None:
            self._live.pop(node, None)
            self._first.pop(node, None)
        else:
            self._first[node] = first
        if first is not None and first.ready:
            self._ready.add(node)
        else:
            self._ready.discard(node)

    def snapshot(self) -> AgentPods:
        if self._snapshot is None:
            self._snapshot = AgentPods(dict(self._first), frozenset(self._ready), frozenset(self._placed))
        return self._snapshot
