"""The watch cache wakes its loop only when the view it keeps changed (a node heartbeat does not)."""
from __future__ import annotations

from cniupgrade.kube.view import node_info
from cniupgrade.kube.watchcache import WatchCache


def node(name: str, ready: str = "True", heartbeat: str = "12:00:00", version: str = "1") -> dict:
    return {"metadata": {"name": name, "resourceVersion": version, "labels": {"zone": "a"}},
            "status": {"conditions": [{"type": "Ready", "status": ready, "lastHeartbeatTime": heartbeat}]}}


def test_only_changes_of_the_kept_view_wake_the_loop():
    wakes = []
    cache = WatchCache("nodes", list_fn=None, on_change=lambda: wakes.append(1), transform=node_info)
    cache._apply({"type": "ADDED", "object": node("n1")}, "0")
    assert len(wakes) == 1
    cache._apply({"type": "MODIFIED", "object": node("n1", heartbeat="12:00:40", version="2")}, "1")
    assert len(wakes) == 1  # only the heartbeat moved
    cache._apply({"type": "MODIFIED", "object": node("n1", ready="False", version="3")}, "2")
    assert len(wakes) == 2 and not cache.get("", "n1").ready
    cache._apply({"type": "DELETED", "object": node("n1", version="4")}, "3")
    cache._apply({"type": "DELETED", "object": node("n1", version="4")}, "4")  # replayed: nothing to remove
    assert len(wakes) == 3 and cache.items() == []
