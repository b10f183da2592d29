"""The pod index the watch keeps event by event reads as the pods rebuilt from scratch."""
from __future__ import annotations

import random

from cniupgrade.kube.watchcache import WatchCache
from cniupgrade.rollout.agent_pods import AgentPod, AgentPodIndex, AgentPods
from tests.unit.test_watchcache import agent


def check(agents: AgentPods, pods: list[AgentPod]) -> None:
    live: dict[str, list[AgentPod]] = {}
    for pod in pods:
        if pod.node and not pod.terminating:
            live.setdefault(pod.node, []).append(pod)
    assert agents.live.keys() == live.keys()
    for node, candidates in live.items():
        assert agents.live[node] in candidates  # two live pods on a node: either (a surge, briefly)
    assert agents.ready == {n for n, p in agents.live.items() if p.ready}
    assert agents.placed == {p.node for p in pods if p.node}


def test_pod_changes_kept_one_by_one_read_as_the_pods_rebuilt_from_scratch():
    for seed in range(200):
        rng = random.Random(seed)
        index, pods = AgentPodIndex(), {}
        for step in range(60):
            name = f"p{rng.randrange(8)}"
            old = pods.get(name)
            if old is not None and rng.random() < 0.2:
                new = None
                del pods[name]
            else:
                node = old.node if old is not None and old.node and rng.random() < 0.8 else \
                    rng.choice([None, "n1", "n2", "n3"])
                new = pods[name] = AgentPod(name, f"uid-{name}", node, rng.choice(["old", "new"]),
                                            rng.random() < 0.5, rng.random() < 0.2)
            index.replace(old, new)
            check(index.snapshot(), list(pods.values()))
            if step % 17 == 0:  # a relist
                index.reset(pods.values())
                check(index.snapshot(), list(pods.values()))


def test_one_live_pod_per_node_is_the_one_shown_and_an_update_keeps_the_first_in_place():
    first = AgentPod("a", "uid-a", "n1", "old", True, False)
    second = AgentPod("b", "uid-b", "n1", "new", False, False)
    agents = AgentPods.of([first, second])
    assert agents.live["n1"] is first and agents.ready == {"n1"}
    index = AgentPodIndex()
    index.reset([first, second])
    updated = AgentPod("a", "uid-a", "n1", "old", False, False)
    index.replace(first, updated)
    assert index.snapshot().live["n1"] is updated and index.snapshot().ready == frozenset()
    index.replace(updated, AgentPod("a", "uid-a", "n1", "old", False, True))  # terminating: gone
    assert index.snapshot().live["n1"] is second and index.snapshot().placed == {"n1"}


def test_the_pod_cache_keeps_its_index_through_watch_events_and_relists():
    cache = WatchCache("pods", list_fn=None, on_change=lambda: None, transform=AgentPod.from_api,
                       index=AgentPodIndex())
    cache._apply({"type": "ADDED", "object": agent("a", "n1", "old", ready=True)}, "0")
    cache._apply({"type": "ADDED", "object": agent("b", None)}, "0")
    assert cache.snapshot().ready == {"n1"} and cache.snapshot().placed == {"n1"}
    cache._apply({"type": "MODIFIED", "object": agent("a", "n1", "old", ready=True, terminating=True)}, "0")
    cache._apply({"type": "MODIFIED", "object": agent("b", "n1")}, "0")
    assert cache.snapshot().live["n1"].name == "b" and cache.snapshot().ready == frozenset()
    cache._apply({"type": "DELETED", "object": agent("a", "n1", "old", ready=True, terminating=True)}, "0")
    cache._apply({"type": "DELETED", "object": agent("b", "n1")}, "0")
    assert cache.snapshot() == AgentPods()

    pages = iter([{"metadata": {"resourceVersion": "7"}, "items": [agent("c", "n2", ready=True)]}])

    class Page:
        def __init__(self, body):
            import json
            self.data = json.dumps(body)
    cache._list_fn = lambda **kwargs: Page(next(pages))
    cache._list()
    assert cache.snapshot().ready == {"n2"} and cache.snapshot().placed == {"n2"}
